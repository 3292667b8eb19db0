/** Payload material that shows exactly where a transport breaks it. */

const BLOCK = 32;

/** Strings that survive JSON but not sloppy encoders: astral planes, joiners, controls, lone surrogates. */
export const UNICODE_SAMPLES: readonly string[] = Object.freeze([
  '',
  'plain ascii',
  'ümlaut ß café',
  '日本語テキスト 中文 한국어',
  '😀👍🏽👨‍👩‍👧‍👦🏳️‍🌈',
  '𝕳𝖊𝖑𝖑𝖔 𐍈 \u{1F9EC} \u{10FFFF}',
  'e\u0301 a\u0308 \u1100\u1161',
  'שלום مرحبا',
  '\u200b\u200c\u200d\ufeff\u00ad',
  '\u0000\u0001\u001f\u007f\u0085',
  '\u2028\u2029',
  '\\ " \' ` ${x} </script>',
  '\ufffd\ufffe\uffff',
  '\ud800',
  '\udfff',
  'a\ud83dz',
  '\udc00\ud800',
]);

/**
 * A long string of 1-, 2-, 3- and 4-byte characters, offset so that no fixed chunk size
 * lands on a character boundary: a transport that splits bytes and decodes each chunk
 * on its own garbles it.
 */
export function multiByteString(approxBytes: number): string {
  const unit = 'a\u00e9\u20ac\u{1F600}'; // 1 + 2 + 3 + 4 = 10 bytes
  return 'x' + unit.repeat(Math.ceil(approxBytes / 10));
}

/** Deep, wide and numerically awkward JSON. */
export function nestedSample(depth: number): unknown {
  let deep: unknown = { leaf: true };
  for (let level = depth; level > 0; level -= 1) deep = { level, child: deep, list: [level, [level]] };
  let deepArray: unknown = [];
  for (let level = 0; level < depth; level += 1) deepArray = [deepArray];
  return {
    deep,
    deepArray,
    numbers: [0, -1, 1.5, -0, 1e-7, 1e21, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 5e-324, 1.7976931348623157e308, 0.1 + 0.2],
    empties: { object: {}, array: [], nested: [[], {}, [{}]], text: '' },
    literals: [true, false, null],
    jsonInside: '{"a":[1,2,{"b":null}]}',
    keys: { '': 'empty key', ' ': 'space', 'with.dot': 1, 'ключ': 2, '😀': 3 },
    document: {
      id: 'doc-1',
      _deleted: false,
      _rev: '1-abc',
      _meta: { lwt: 1700000000000.123 },
      _attachments: {},
      tags: ['a', 'b'],
    },
  };
}

/**
 * An ASCII string of exactly `length` chars made of numbered 32-char blocks: a truncated,
 * duplicated or reordered chunk shows as a wrong block number at a known index.
 */
export function blockString(length: number, seed = ''): string {
  // Written into one buffer: joining half a million small strings takes ~10x longer.
  const buffer = Buffer.alloc(Math.ceil(length / BLOCK) * BLOCK, '.');
  for (let offset = 0, i = 0; offset < buffer.length; offset += BLOCK, i += 1) {
    buffer.write(`<${seed}${i.toString(36)}>`, offset, BLOCK, 'latin1');
  }
  return buffer.toString('latin1', 0, length);
}

/** UTF-8 size of a JSON payload. */
export function encodedBytes(payload: unknown): number {
  return Buffer.byteLength(JSON.stringify(payload), 'utf8');
}
