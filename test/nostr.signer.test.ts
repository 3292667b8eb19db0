/** The WebAssembly signer against nostr-tools' JavaScript one: same events, same verdicts. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateSecretKey, getPublicKey, type NostrEvent } from 'nostr-tools/pure';
import { javascriptSigner, loadSigner, type NostrSigner } from '../handlers/nostr/signer.js';

const secretKey = generateSecretKey();
const template = () => ({ kind: 25050, created_at: Math.floor(Date.now() / 1000), tags: [['x', 'room'], ['p', getPublicKey(generateSecretKey())]], content: 'hello "world" ✓' });
const copy = (event: NostrEvent): NostrEvent => JSON.parse(JSON.stringify(event));

let wasm: NostrSigner;
test.before(async () => {
  wasm = await loadSigner();
});

test('loadSigner gives the WebAssembly signer here, once per process', async () => {
  assert.is.not(wasm, javascriptSigner);
  assert.is(await loadSigner(), wasm);
});

test('each verifies what the other signed', () => {
  for (const [signer, verifier] of [[wasm, javascriptSigner], [javascriptSigner, wasm], [wasm, wasm]] as const) {
    const event = signer.finalize(template(), secretKey);
    assert.is(event.pubkey, getPublicKey(secretKey));
    assert.ok(verifier.verify(copy(event)));
  }
});

test('both refuse altered, forged and malformed events', () => {
  const good = wasm.finalize(template(), secretKey);
  const other = wasm.finalize({ ...template(), content: 'other' }, secretKey);
  const flip = (hex: string) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
  const bad: Array<[string, Record<string, unknown>]> = [
    ['content changed', { content: 'hello world' }],
    ['tag changed', { tags: [['x', 'other-room']] }],
    ['id of another event', { id: other.id }],
    ['signature of another event', { sig: other.sig }],
    ['signature bit flipped', { sig: flip(good.sig) }],
    ['another author', { pubkey: getPublicKey(generateSecretKey()) }],
    ['short signature', { sig: good.sig.slice(0, 100) }],
    ['empty signature', { sig: '' }],
    ['non-hex signature', { sig: 'z'.repeat(128) }],
    ['upper-case id', { id: good.id.toUpperCase() }],
    ['numeric content', { content: 5 }],
    ['tags not an array', { tags: 'x' }],
    ['pubkey not on the curve', { pubkey: 'f'.repeat(64) }],
  ];
  for (const [what, change] of bad) {
    for (const signer of [wasm, javascriptSigner]) {
      assert.not.ok(signer.verify({ ...copy(good), ...change } as NostrEvent), `${signer === wasm ? 'wasm' : 'js'}: ${what}`);
    }
  }
  // A forged event after a good one must not pass on bytes the good one left behind.
  assert.ok(wasm.verify(copy(good)));
  assert.not.ok(wasm.verify({ ...copy(good), sig: good.sig.slice(0, 64) } as NostrEvent));
});

test.run();
