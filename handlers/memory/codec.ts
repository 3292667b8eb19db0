import { P2PError, P2PErrorCode } from '../../src/errors.js';

/**
 * Payloads cross the memory network as JSON text, exactly like they cross a data channel:
 * the receiver gets a copy, `undefined` fields vanish and Dates turn into strings, so an
 * app's unit tests see what a real transport would deliver.
 */
export function encodePayload(payload: unknown, maxBytes: number, peerId: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(payload);
  } catch (error) {
    throw new P2PError(P2PErrorCode.NOT_SERIALIZABLE, `payload for peer ${peerId} is not JSON-serializable`, {
      cause: error,
      peerId,
    });
  }
  if (json === undefined) {
    throw new P2PError(P2PErrorCode.NOT_SERIALIZABLE, `payload for peer ${peerId} encodes to nothing`, { peerId });
  }
  // Byte length costs a full scan: only pay for it when a limit is set.
  if (Number.isFinite(maxBytes)) {
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > maxBytes) {
      throw new P2PError(
        P2PErrorCode.PAYLOAD_TOO_LARGE,
        `payload for peer ${peerId} is ${bytes} bytes, the limit is ${maxBytes}`,
        { peerId },
      );
    }
  }
  return json;
}

export function decodePayload(json: string): unknown {
  return JSON.parse(json);
}
