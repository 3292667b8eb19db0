import { finalizeEvent, validateEvent, verifyEvent, type EventTemplate, type NostrEvent } from 'nostr-tools/pure';

/** Signs and verifies events (BIP-340 Schnorr over the event id). */
export interface NostrSigner {
  finalize(template: EventTemplate, secretKey: Uint8Array): NostrEvent;
  /** False for a malformed event, a wrong id or a bad signature; never throws. */
  verify(event: NostrEvent): boolean;
}

/** nostr-tools' pure JavaScript: ~2.5 ms a signature and more a verification on a 2-core server. */
export const javascriptSigner: NostrSigner = {
  finalize: (template, secretKey) => finalizeEvent(template, secretKey),
  verify: (event) => {
    try {
      return verifyEvent(event);
    } catch {
      return false;
    }
  },
};

const HEX_64 = /^[0-9a-f]{64}$/;
const HEX_128 = /^[0-9a-f]{128}$/;

/**
 * libsecp256k1 compiled to WebAssembly (nostr-wasm, by nostr-tools' author): ~0.4 ms a
 * signature or a verification, 6–10× the JavaScript. Signing and checking every signal is
 * what a Nostr mesh spends its CPU on, so this is what sets how fast a mesh forms.
 */
export function wasmSigner(wasm: import('nostr-wasm').Nostr): NostrSigner {
  return {
    finalize: (template, secretKey) => {
      const event = { ...template, id: '', pubkey: '', sig: '' };
      wasm.finalizeEvent(event, secretKey);
      return event as NostrEvent;
    },
    verify: (event) => {
      // The wasm copies hex into fixed buffers: a short or non-hex field would mix in stale bytes.
      if (!validateEvent(event) || !HEX_64.test(event.id) || !HEX_128.test(event.sig)) return false;
      try {
        wasm.verifyEvent(event);
        return true;
      } catch {
        return false;
      }
    },
  };
}

/**
 * Compiling the WebAssembly takes 30–90 ms, so a process does it once, on first use, and every
 * creator shares the instance (its calls are synchronous, so they never interleave). A process
 * without nostr-wasm or WebAssembly, or whose compile failed, signs in JavaScript.
 */
let shared: Promise<NostrSigner> | undefined;

export function loadSigner(): Promise<NostrSigner> {
  shared ??= import('nostr-wasm')
    .then(({ initNostrWasm }) => initNostrWasm())
    .then(wasmSigner, () => javascriptSigner);
  return shared;
}
