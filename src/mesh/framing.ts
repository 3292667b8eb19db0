import { P2PError, P2PErrorCode } from '../errors.js';

/**
 * Wire format of one data-channel frame (binary, first byte is the type). Frames stay at or
 * below `FRAME_BYTES`, the size every WebRTC stack delivers intact; larger messages are split
 * into START + CONTINUE frames. The channel is reliable and ordered and one link writes one
 * message at a time, so chunks need no ids: a START fixes the total, CONTINUEs fill it.
 */
export const FrameType = {
  /** A whole JSON message. */
  WHOLE: 1,
  /** u32 big-endian total byte length, then the first bytes of a JSON message. */
  START: 2,
  /** The next bytes of the message being assembled. */
  CONTINUE: 3,
  /** Keep-alive: proves the remote is alive when no data flows. */
  PING: 4,
} as const;

/** 16 KiB: the largest message every data channel implementation carries unchanged. */
export const FRAME_BYTES = 16 * 1024;
const START_HEADER_BYTES = 5;

const textEncoder = new TextEncoder();

/** Encodes one payload into frames; throws ERR_NOT_SERIALIZABLE / ERR_PAYLOAD_TOO_LARGE. */
export function encodeMessage(payload: unknown, maxMessageBytes: number, frameBytes = FRAME_BYTES): Uint8Array[] {
  let json: string | undefined;
  try {
    json = JSON.stringify(payload);
  } catch (error) {
    throw new P2PError(P2PErrorCode.NOT_SERIALIZABLE, 'the payload cannot be encoded as JSON', { cause: error });
  }
  if (json === undefined) throw new P2PError(P2PErrorCode.NOT_SERIALIZABLE, 'the payload has no JSON form');
  const body = textEncoder.encode(json);
  if (body.byteLength > maxMessageBytes) {
    throw new P2PError(
      P2PErrorCode.PAYLOAD_TOO_LARGE,
      `the payload is ${body.byteLength} bytes, more than maxMessageBytes (${maxMessageBytes})`,
    );
  }
  if (body.byteLength + 1 <= frameBytes) return [withType(FrameType.WHOLE, body)];

  const frames: Uint8Array[] = [];
  const start = new Uint8Array(frameBytes);
  start[0] = FrameType.START;
  new DataView(start.buffer).setUint32(1, body.byteLength);
  const firstBytes = frameBytes - START_HEADER_BYTES;
  start.set(body.subarray(0, firstBytes), START_HEADER_BYTES);
  frames.push(start);
  for (let offset = firstBytes; offset < body.byteLength; offset += frameBytes - 1) {
    frames.push(withType(FrameType.CONTINUE, body.subarray(offset, offset + frameBytes - 1)));
  }
  return frames;
}

export function encodePing(): Uint8Array {
  return Uint8Array.of(FrameType.PING);
}

function withType(type: number, bytes: Uint8Array): Uint8Array {
  const frame = new Uint8Array(bytes.byteLength + 1);
  frame[0] = type;
  frame.set(bytes, 1);
  return frame;
}

export type DecodedFrame = { kind: 'message'; payload: unknown } | { kind: 'ping' } | { kind: 'partial' };

/**
 * Reassembles one peer's frames. Memory is bounded: at most one message of at most
 * `maxMessageBytes` is held at a time, allocated only after its header is checked.
 * Anything out of protocol throws ERR_PROTOCOL / ERR_PAYLOAD_TOO_LARGE: the caller
 * drops the peer, since a stream that lost sync cannot be trusted again.
 */
export class FrameDecoder {
  private assembling: Uint8Array | undefined;
  private filled = 0;
  private readonly textDecoder = new TextDecoder('utf-8', { fatal: true });

  constructor(private readonly maxMessageBytes: number) {}

  decode(frame: Uint8Array): DecodedFrame {
    if (!(frame instanceof Uint8Array) || frame.byteLength === 0) throw protocolError('an empty or non-binary frame');
    const type = frame[0];
    if (type === FrameType.PING && frame.byteLength === 1) return { kind: 'ping' };
    if (type === FrameType.WHOLE) {
      if (this.assembling) throw protocolError('a whole message in the middle of a chunked one');
      return { kind: 'message', payload: this.parse(frame.subarray(1)) };
    }
    if (type === FrameType.START) return this.start(frame);
    if (type === FrameType.CONTINUE) return this.continue(frame.subarray(1));
    throw protocolError(`an unknown frame type ${String(type)} (${frame.byteLength} bytes)`);
  }

  private start(frame: Uint8Array): DecodedFrame {
    if (this.assembling) throw protocolError('a new chunked message before the last one ended');
    if (frame.byteLength < START_HEADER_BYTES) throw protocolError('a truncated chunk header');
    const total = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(1);
    const first = frame.subarray(START_HEADER_BYTES);
    if (total > this.maxMessageBytes) {
      throw new P2PError(
        P2PErrorCode.PAYLOAD_TOO_LARGE,
        `the remote announced a ${total}-byte message, more than maxMessageBytes (${this.maxMessageBytes})`,
      );
    }
    if (total <= first.byteLength) throw protocolError(`a chunk header announcing ${total} bytes`);
    this.assembling = new Uint8Array(total);
    this.assembling.set(first);
    this.filled = first.byteLength;
    return { kind: 'partial' };
  }

  private continue(bytes: Uint8Array): DecodedFrame {
    const target = this.assembling;
    if (!target) throw protocolError('a continuation with no message started');
    if (this.filled + bytes.byteLength > target.byteLength) throw protocolError('more bytes than the chunk header announced');
    target.set(bytes, this.filled);
    this.filled += bytes.byteLength;
    if (this.filled < target.byteLength) return { kind: 'partial' };
    this.assembling = undefined;
    this.filled = 0;
    return { kind: 'message', payload: this.parse(target) };
  }

  private parse(bytes: Uint8Array): unknown {
    try {
      return JSON.parse(this.textDecoder.decode(bytes));
    } catch (error) {
      throw new P2PError(P2PErrorCode.PROTOCOL, 'the remote sent a message that is not UTF-8 JSON', { cause: error });
    }
  }
}

function protocolError(what: string): P2PError {
  return new P2PError(P2PErrorCode.PROTOCOL, `the remote sent ${what}`);
}
