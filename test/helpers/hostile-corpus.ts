/**
 * Seeded hostile input for socket.io signaling servers (ours, and any server speaking the
 * seed's `join`/`signal`/`leave` protocol), plus generic generators other corpora can reuse:
 * `mutateRecord` (wrong types, missing and extra fields of any JSON message), `nonJsonText`,
 * `engineIoGarbage` (raw engine.io/socket.io frames) and `wsClientFrame` (a raw masked frame).
 * Built on the PRNG and session shape of ./hostile-frames.ts; the same seed gives the same
 * corpus (`HOSTILE_SEED=… npm test -- socket-io.hostile-server`).
 */
import { Rng, type Session } from './hostile-frames.js';

/** One thing an attacker sends: a socket.io event through a real client, or a raw frame. */
export type SocketIoAttack =
  | { event: string; args: unknown[] }
  | { frame: string | Buffer };

export interface SocketIoSession extends Session<SocketIoAttack> {
  /**
   * `client`: socket.io-client, every event with an ack; `engine`: a raw WebSocket speaking
   * engine.io frames; `half-open`: a raw TCP socket that stops mid-upgrade or mid-frame.
   */
  via: 'client' | 'engine' | 'half-open';
}

/** Ids held by well-behaved peers, for spoofing and takeover attempts. */
export interface KnownMember {
  room: string;
  peerId: string;
}

export interface SocketIoCorpusOptions {
  seed: number;
  minMessages: number;
  known: readonly KnownMember[];
  /** The server's `maxPayloadBytes` (signals just over it, frames far over it). */
  maxPayloadBytes: number;
  /** The server's burst and drop limits: a flood sends enough to be cut off. */
  messageBurst: number;
  maxDroppedMessages: number;
  maxRoomsPerSocket: number;
}

/** A JSON message with one field of a wrong type, missing, or extra; or no record at all. */
export function mutateRecord(rng: Rng, template: Record<string, unknown>): unknown {
  const fields = Object.keys(template);
  const copy: Record<string, unknown> = { ...template };
  switch (rng.int(6)) {
    case 0:
      copy[rng.pick(fields)] = rng.junkValue();
      return copy;
    case 1:
      delete copy[rng.pick(fields)];
      return copy;
    case 2:
      for (const field of fields) if (rng.int(2)) delete copy[field];
      copy[rng.pick(['__proto__', 'constructor', 'identity', 'type', rng.text(6)])] = rng.junkValue();
      return copy;
    case 3:
      return rng.junkValue();
    case 4:
      return [copy];
    default:
      copy[rng.pick(fields)] = rng.pick(['', '\u0000', 'x'.repeat(257), '\ud800', ' ']);
      return copy;
  }
}

/** Text that is not JSON, or is JSON of the wrong shape. */
export function nonJsonText(rng: Rng): string {
  return rng.pick<() => string>([
    () => rng.text(1 + rng.int(40)),
    () => '{"room":',
    () => '[' .repeat(1 + rng.int(2000)),
    () => '{"a":'.repeat(1 + rng.int(500)),
    () => `"${rng.text(20)}`,
    () => 'null',
    () => '1e999999',
    () => '\ufeff{}',
    () => rng.bytes(1 + rng.int(64)).toString('latin1'),
  ])();
}

/** Raw engine.io v4 / socket.io v5 frames, valid-looking and not (after the `0` open packet). */
export function engineIoGarbage(rng: Rng, events: readonly string[]): string | Buffer {
  const json = () => JSON.stringify([rng.pick(events), mutateRecord(rng, { room: rng.text(6), peerId: rng.text(6) })]);
  return rng.pick<() => string | Buffer>([
    () => `42${json()}`,
    () => `42${rng.int(1e6)}${json()}`,
    () => `42${nonJsonText(rng)}`,
    () => `42/${rng.text(5)},${json()}`,
    () => `40/${rng.text(8)},`,
    () => `40${nonJsonText(rng)}`,
    () => `43${rng.int(99)}[{"ok":true}]`,
    () => `44${json()}`,
    () => `41`,
    () => `451-${JSON.stringify([rng.pick(events), { _placeholder: true, num: rng.int(3) }])}`,
    () => `45${rng.int(1e9)}-[]`,
    () => `4${rng.int(10)}`,
    () => `${rng.int(10)}${rng.text(rng.int(20))}`,
    () => '2probe',
    () => '5',
    () => '6',
    () => '',
    () => rng.bytes(1 + rng.int(200)),
  ])();
}

/** A masked client WebSocket text frame (RFC 6455): clients must mask, servers check it. */
export function wsClientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const length = payload.length;
  let header: Buffer;
  if (length < 126) header = Buffer.from([0x81, 0x80 | length]);
  else if (length < 65_536) header = Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff]);
  else {
    header = Buffer.alloc(10);
    header[0] = 0x81;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  return Buffer.concat([header, mask, payload.map((byte, i) => byte ^ mask[i % 4]!)]);
}

/** Messages per kind of abuse, for the figures a test prints. */
export function countKinds<T>(sessions: readonly Session<T>[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const session of sessions) kinds[session.kind] = (kinds[session.kind] ?? 0) + session.messages.length;
  return kinds;
}

const EVENTS = ['join', 'signal', 'leave'] as const;

/** The socket.io signaling corpus: sessions until at least `minMessages` messages. */
export function socketIoCorpus(options: SocketIoCorpusOptions): SocketIoSession[] {
  const rng = new Rng(options.seed);
  const sessions: SocketIoSession[] = [];
  let total = 0;
  const add = (session: SocketIoSession) => {
    sessions.push(session);
    total += session.messages.length;
  };
  const hostileRoom = () => `hostile-${rng.int(40)}`;
  const event = (name: string, ...args: unknown[]): SocketIoAttack => ({ event: name, args });
  const makers: Array<() => SocketIoSession> = [
    // Wrong types, missing and extra fields, in every event, after a valid join or not.
    () => {
      const room = hostileRoom();
      const peerId = rng.text(8, 'abcdef0123');
      const messages: SocketIoAttack[] = rng.int(2) ? [event('join', { room, peerId })] : [];
      for (let i = 0; i < 20 + rng.int(30); i++) {
        const name = rng.pick(EVENTS);
        const template = name === 'join' ? { room, peerId, token: rng.text(8) } : name === 'signal' ? { from: peerId, to: rng.text(8), room, signal: { type: 'offer', sdp: rng.text(30) } } : { room };
        messages.push(event(name, mutateRecord(rng, template)));
      }
      return { kind: 'wrong-types', via: 'client', messages };
    },
    // Unknown and reserved event names, extra arguments.
    () => {
      // Names socket.io-client refuses to emit ('connect', 'disconnect'…) go as raw frames below.
      const names = ['joined', 'error', 'removeListener ', '__proto__', 'constructor', 'hasOwnProperty', 'p2p:roster', 'p2p:displace', 'ping', rng.text(10)];
      const messages = Array.from({ length: 20 + rng.int(20) }, () => event(rng.pick(names), rng.junkValue(), rng.junkValue()));
      return { kind: 'unknown-events', via: 'client', messages };
    },
    // Spoofed ids: someone else's `from`, unknown `to`, rooms one is not in, held ids.
    () => {
      const room = hostileRoom();
      const own = `spoof-${rng.int(1e9)}`;
      const known = rng.pick(options.known);
      const messages: SocketIoAttack[] = [
        event('join', { room, peerId: own }),
        event('join', { room: known.room, peerId: known.peerId }),
        event('join', { room: known.room, peerId: known.peerId, token: rng.text(16) }),
        event('signal', { from: known.peerId, to: known.peerId, room: known.room, signal: { type: 'offer', sdp: 'v=0' } }),
        event('signal', { from: own, to: known.peerId, room, signal: { type: 'answer' } }),
        event('signal', { from: own, to: known.peerId, room: known.room, signal: {} }),
        event('signal', { from: known.peerId, to: own, room, signal: {} }),
        event('signal', { from: own, to: `ghost-${rng.int(1e6)}`, room, signal: { candidate: 'x' } }),
        event('leave', { room: known.room }),
        event('join', { room, peerId: `${own}-again` }),
      ];
      return { kind: 'spoofed-ids', via: 'client', messages };
    },
    // Oversize: a signal just over the limit (typed error), then a frame far over it (cut).
    () => {
      const room = hostileRoom();
      const peerId = `big-${rng.int(1e9)}`;
      const over = (bytes: number) => ({ from: peerId, to: peerId, room, signal: 'x'.repeat(bytes) });
      const messages: SocketIoAttack[] = [
        event('join', { room, peerId }),
        event('signal', over(options.maxPayloadBytes + 1 + rng.int(1000))),
        event('join', { room: 'r'.repeat(options.maxPayloadBytes), peerId }),
        event('signal', over(options.maxPayloadBytes * 3)),
      ];
      return { kind: 'oversize', via: 'client', messages };
    },
    // Join flood: more rooms than a socket may hold, then the same rooms again.
    () => {
      const rooms = options.maxRoomsPerSocket + 10 + rng.int(20);
      const messages = Array.from({ length: rooms }, (_, i) => event('join', { room: `flood-${rng.int(1e6)}-${i}`, peerId: 'flooder' }));
      return { kind: 'join-flood', via: 'client', messages };
    },
    // Signal flood: past the burst and the drops (with room for the refill while the server
    // works through it on a loaded machine), until the server cuts the socket.
    () => {
      const room = hostileRoom();
      const length = options.messageBurst * 2 + options.maxDroppedMessages * 3;
      const messages = [event('join', { room, peerId: 'flood-sender' })];
      for (let i = 0; i < length; i++) messages.push(event('signal', { from: 'flood-sender', to: 'flood-sender', room, signal: { i } }));
      return { kind: 'signal-flood', via: 'client', messages };
    },
    // Raw engine.io frames: garbage after a proper socket.io connect, or instead of it.
    () => {
      const messages: SocketIoAttack[] = rng.int(4) ? [{ frame: '40' }] : [];
      for (let i = 0; i < 10 + rng.int(30); i++) messages.push({ frame: engineIoGarbage(rng, [...EVENTS, 'joined', 'connect', 'disconnect', 'disconnecting', 'newListener', 'connect_error', rng.text(4)]) });
      return { kind: 'engine-frames', via: 'engine', messages };
    },
    // Non-JSON payloads of socket.io event packets.
    () => {
      const messages: SocketIoAttack[] = [{ frame: '40' }];
      for (let i = 0; i < 10 + rng.int(20); i++) messages.push({ frame: `42${nonJsonText(rng)}` });
      return { kind: 'non-json', via: 'engine', messages };
    },
    // Half-open: stops in the middle of the upgrade, or of a frame, or never connects socket.io.
    () => {
      const messages: SocketIoAttack[] = [];
      const stage = rng.int(3);
      if (stage >= 1) messages.push({ frame: '40' });
      if (stage === 2) messages.push({ frame: `42${JSON.stringify(['join', { room: hostileRoom(), peerId: 'x'.repeat(200) }])}` });
      return { kind: 'half-open', via: 'half-open', messages, halfOpen: true };
    },
  ];
  // Every maker at least once, then weighted at random; a signal flood is ~1,000 messages,
  // so there are at most three of them, and the other kinds make up the rest.
  const flood = makers[5]!;
  for (const make of makers) add(make());
  const weights = [8, 3, 4, 2, 2, 1, 6, 3, 2];
  const bag = makers.flatMap((make, i) => Array.from({ length: weights[i]! }, () => make));
  let floods = 1;
  while (total < options.minMessages) {
    const make = rng.pick(bag);
    if (make === flood && ++floods > 3) continue;
    add(make());
  }
  return sessions;
}
