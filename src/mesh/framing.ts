import { P2PError, P2PErrorCode } from '../errors.js';

/**
 * Wire format of one data-channel frame (binary, first byte is the type). Frames stay at or
 * below `FRAME_BYTES`, the size every WebRTC stack delivers intact; larger messages are split
 * into START + CONTINUE frames. The channel is reliable and ordered and one link writes one
 * message at a time, so chunks need no ids: a START fixes the total, CONTINUEs fill it.
 * One link carries every topic two peers share (RxDB opens one replication per collection):
 * a sender announces each of its topics with JOIN under a channel number of its choosing and
 * tags its messages with that number.
 */
export const FrameType = {
  /** u16 channel, then a whole JSON message. */
  WHOLE: 1,
  /** u16 channel, u32 total byte length (big-endian), then the first bytes of a JSON message. */
  START: 2,
  /** The next bytes of the message being assembled. */
  CONTINUE: 3,
  /** Keep-alive: proves the remote is alive when no data flows. */
  PING: 4,
  /** u16 channel, then the UTF-8 topic the sender's messages on that channel belong to. */
  JOIN: 5,
  /** u16 channel: the sender left that channel's topic. */
  LEAVE: 6,
  /**
   * The sender is closing the link and writes nothing more: the receiver closes its side at
   * once. The side that closes a data channel must be the one not writing to it: @roamhq/wrtc
   * frees a channel closed by the remote on its own thread, under a send in progress (segfault).
   */
  GOODBYE: 7,
} as const;

/** Most channels one remote may announce; more is a protocol error (bounded memory). */
export const MAX_CHANNELS = 1024;
const MAX_TOPIC_BYTES = 2048;

/** 16 KiB: the largest message every data channel implementation carries unchanged. */
export const FRAME_BYTES = 16 * 1024;
const WHOLE_HEADER_BYTES = 3;
const START_HEADER_BYTES = 7;

const textEncoder = new TextEncoder();

/** Encodes one payload for `channel` into frames; throws ERR_NOT_SERIALIZABLE / ERR_PAYLOAD_TOO_LARGE. */
export function encodeMessage(payload: unknown, channel: number, maxMessageBytes: number, frameBytes = FRAME_BYTES): Uint8Array[] {
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
  if (body.byteLength + WHOLE_HEADER_BYTES <= frameBytes) {
    const whole = new Uint8Array(body.byteLength + WHOLE_HEADER_BYTES);
    whole[0] = FrameType.WHOLE;
    new DataView(whole.buffer).setUint16(1, channel);
    whole.set(body, WHOLE_HEADER_BYTES);
    return [whole];
  }

  const frames: Uint8Array[] = [];
  const start = new Uint8Array(frameBytes);
  start[0] = FrameType.START;
  const header = new DataView(start.buffer);
  header.setUint16(1, channel);
  header.setUint32(3, body.byteLength);
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

export function encodeGoodbye(): Uint8Array {
  return Uint8Array.of(FrameType.GOODBYE);
}

/** `tag`: the topic's tag for this link (topic-tag.ts), never its name. */
export function encodeJoin(channel: number, tag: string): Uint8Array {
  const name = textEncoder.encode(tag);
  const frame = new Uint8Array(3 + name.byteLength);
  frame[0] = FrameType.JOIN;
  new DataView(frame.buffer).setUint16(1, channel);
  frame.set(name, 3);
  return frame;
}

export function encodeLeave(channel: number): Uint8Array {
  const frame = Uint8Array.of(FrameType.LEAVE, 0, 0);
  new DataView(frame.buffer).setUint16(1, channel);
  return frame;
}

function withType(type: number, bytes: Uint8Array): Uint8Array {
  const frame = new Uint8Array(bytes.byteLength + 1);
  frame[0] = type;
  frame.set(bytes, 1);
  return frame;
}

export type DecodedFrame =
  | { kind: 'message'; channel: number; payload: unknown }
  | { kind: 'join'; channel: number; tag: string }
  | { kind: 'leave'; channel: number }
  | { kind: 'ping' }
  | { kind: 'goodbye' }
  | { kind: 'partial' };

/** First buffer for a chunked message; it doubles as chunks arrive, up to the announced size. */
const INITIAL_ASSEMBLY_BYTES = 64 * 1024;

/**
 * Bytes of partly received messages held at once by all links of one peer (the mesh option
 * `maxReassemblyBytes`): without it, every remote could make us hold a `maxMessageBytes` buffer.
 * Counted as buffers grow with bytes that arrived, so announcing a size costs the sender nothing
 * here, and holding bytes costs it sending them.
 */
export class ReassemblyBudget {
  private held = 0;

  constructor(readonly limitBytes: number) {}

  get heldBytes(): number {
    return this.held;
  }

  /** Takes `bytes` more, or takes nothing and returns false when that would pass the limit. */
  take(bytes: number): boolean {
    if (this.held + bytes > this.limitBytes) return false;
    this.held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.held -= bytes;
  }
}

/**
 * Reassembles one peer's frames. Memory is bounded: at most one message of at most
 * `maxMessageBytes` is held at a time, its buffer grows with the bytes that actually arrived
 * (a 7-byte header announcing 64 MiB costs 64 KiB, not 64 MiB), and it is charged to the
 * budget shared with the peer's other links.
 * Anything out of protocol throws ERR_PROTOCOL / ERR_PAYLOAD_TOO_LARGE / ERR_LIMIT_EXCEEDED:
 * the caller drops the peer, since a stream that lost sync cannot be trusted again.
 */
export class FrameDecoder {
  private assembling: Uint8Array | undefined;
  private assemblingChannel = 0;
  private filled = 0;
  private announced = 0;
  private readonly textDecoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly maxMessageBytes: number,
    private readonly budget = new ReassemblyBudget(Number.POSITIVE_INFINITY),
  ) {}

  /** Gives back the buffer of a message cut off by the link's end. Idempotent. */
  dispose(): void {
    if (this.assembling) this.budget.give(this.assembling.byteLength);
    this.assembling = undefined;
    this.filled = 0;
  }

  decode(frame: Uint8Array): DecodedFrame {
    if (!(frame instanceof Uint8Array) || frame.byteLength === 0) throw protocolError('an empty or non-binary frame');
    const type = frame[0];
    if (type === FrameType.PING && frame.byteLength === 1) return { kind: 'ping' };
    if (type === FrameType.GOODBYE && frame.byteLength === 1) return { kind: 'goodbye' };
    if (type === FrameType.CONTINUE) return this.continue(frame.subarray(1));
    if (frame.byteLength < 3) throw protocolError(`a truncated frame of type ${String(type)}`);
    const channel = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint16(1);
    if (type === FrameType.LEAVE && frame.byteLength === 3) return { kind: 'leave', channel };
    if (type === FrameType.JOIN) {
      if (frame.byteLength - 3 > MAX_TOPIC_BYTES || frame.byteLength === 3) throw protocolError('a topic name of absurd length');
      return { kind: 'join', channel, tag: this.text(frame.subarray(3)) };
    }
    if (type === FrameType.WHOLE) {
      if (this.assembling) throw protocolError('a whole message in the middle of a chunked one');
      return { kind: 'message', channel, payload: this.parse(frame.subarray(WHOLE_HEADER_BYTES)) };
    }
    if (type === FrameType.START) return this.start(frame, channel);
    throw protocolError(`an unknown frame type ${String(type)} (${frame.byteLength} bytes)`);
  }

  private start(frame: Uint8Array, channel: number): DecodedFrame {
    if (this.assembling) throw protocolError('a new chunked message before the last one ended');
    if (frame.byteLength < START_HEADER_BYTES) throw protocolError('a truncated chunk header');
    const total = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(3);
    const first = frame.subarray(START_HEADER_BYTES);
    if (total > this.maxMessageBytes) {
      throw new P2PError(
        P2PErrorCode.PAYLOAD_TOO_LARGE,
        `the remote announced a ${total}-byte message, more than maxMessageBytes (${this.maxMessageBytes})`,
      );
    }
    if (total <= first.byteLength) throw protocolError(`a chunk header announcing ${total} bytes`);
    const size = Math.min(total, Math.max(INITIAL_ASSEMBLY_BYTES, first.byteLength));
    this.charge(size);
    this.assembling = new Uint8Array(size);
    this.announced = total;
    this.assemblingChannel = channel;
    this.assembling.set(first);
    this.filled = first.byteLength;
    return { kind: 'partial' };
  }

  private continue(bytes: Uint8Array): DecodedFrame {
    let target = this.assembling;
    if (!target) throw protocolError('a continuation with no message started');
    const needed = this.filled + bytes.byteLength;
    if (needed > this.announced) throw protocolError('more bytes than the chunk header announced');
    if (needed > target.byteLength) {
      // Doubling keeps copies linear in the message size; never past what was announced.
      const size = Math.min(this.announced, Math.max(needed, target.byteLength * 2));
      this.charge(size - target.byteLength);
      const grown = new Uint8Array(size);
      grown.set(target.subarray(0, this.filled));
      target = this.assembling = grown;
    }
    target.set(bytes, this.filled);
    this.filled = needed;
    if (this.filled < this.announced) return { kind: 'partial' };
    this.dispose();
    return { kind: 'message', channel: this.assemblingChannel, payload: this.parse(target) };
  }

  private charge(bytes: number): void {
    if (this.budget.take(bytes)) return;
    throw new P2PError(
      P2PErrorCode.LIMIT_EXCEEDED,
      `messages being received hold ${this.budget.heldBytes} bytes; ${bytes} more would pass maxReassemblyBytes (${this.budget.limitBytes})`,
    );
  }

  private text(bytes: Uint8Array): string {
    try {
      return this.textDecoder.decode(bytes);
    } catch (error) {
      throw new P2PError(P2PErrorCode.PROTOCOL, 'the remote sent text that is not UTF-8', { cause: error });
    }
  }

  private parse(bytes: Uint8Array): unknown {
    const json = this.text(bytes);
    try {
      return JSON.parse(json);
    } catch (error) {
      throw new P2PError(P2PErrorCode.PROTOCOL, 'the remote sent a message that is not JSON', { cause: error });
    }
  }
}

function protocolError(what: string): P2PError {
  return new P2PError(P2PErrorCode.PROTOCOL, `the remote sent ${what}`);
}
