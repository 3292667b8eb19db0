/**
 * Seeded generators of hostile input for the embedded servers (aedes MQTT, our Nostr relay,
 * PeerServer) and for a malicious peer's data channel. The same seed gives the same corpus,
 * so a failure found once is found again (`HOSTILE_SEED=… npm test -- hostile`).
 * A corpus is a list of sessions: one connection each, and the messages it sends in order.
 */
import mqttPacket from 'mqtt-packet';
import { FrameType, MAX_CHANNELS, encodeJoin, encodeLeave } from '../../src/mesh/framing.js';

/** The seed every hostile test uses unless `HOSTILE_SEED` says otherwise. */
export const DEFAULT_SEED = Number(process.env.HOSTILE_SEED ?? 0x5eed_2026);

/** A small deterministic PRNG (mulberry32): reproducible corpora without a dependency. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }
  text(length: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789/#+$_-. \u0000\u00e9\ud83d'): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[this.int(alphabet.length)];
    return out;
  }
  /** A JSON value of a random type: what "wrong type" means for any field. */
  junkValue(): unknown {
    return this.pick<() => unknown>([
      () => null,
      () => this.int(2 ** 31) - 2 ** 30,
      () => -1,
      () => 1e308,
      () => true,
      () => this.text(this.int(12)),
      () => [],
      () => [this.text(3), 1, null],
      () => ({}),
      () => ({ __proto__: { polluted: true }, constructor: 'x' }),
      () => 'x'.repeat(this.int(5_000)),
    ])();
  }
}

export interface Session<T> {
  /** What kind of abuse, for the figures printed per kind. */
  kind: string;
  messages: T[];
  /** Stop after sending half of the last message and stay silent (a half-open socket). */
  halfOpen?: boolean;
}

/**
 * Hands a corpus out one session at a time to several workers, counting as it goes: sessions
 * are made just before they are sent, so the corpus never sits in memory (and in a baseline).
 */
export class CorpusRun<T> {
  messages = 0;
  sessions = 0;
  readonly kinds: Record<string, number> = {};
  constructor(private readonly source: Iterator<Session<T>>) {}
  take(): Session<T> | undefined {
    const result = this.source.next();
    if (result.done) return undefined;
    const session = result.value;
    this.sessions++;
    this.messages += session.messages.length;
    this.kinds[session.kind] = (this.kinds[session.kind] ?? 0) + session.messages.length;
    return session;
  }
  describe(): string {
    return `${this.messages} messages in ${this.sessions} sessions (${Object.entries(this.kinds).map(([kind, n]) => `${kind}: ${n}`).join(', ')})`;
  }
}

// ---- MQTT 3.1.1: raw packets on TCP or WebSocket -------------------------------------------

const mqttEncode = (packet: object): Buffer => mqttPacket.generate(packet as mqttPacket.Packet);

function connectPacket(rng: Rng, clientId = `hostile-${rng.text(8, 'abcdef0123456789')}`): Buffer {
  return mqttEncode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 30 });
}

function mqttTopic(rng: Rng): string {
  return rng.pick([
    () => `room/${rng.text(8)}`,
    () => '#',
    () => '+/+/+',
    () => `$SYS/${rng.text(4)}`,
    () => 'a/#/b',
    () => 'a+b',
    () => `${'x/'.repeat(150)}end`,
    () => rng.text(1 + rng.int(300)),
    () => `p2ph/${rng.text(16, '0123456789abcdef')}/s/${rng.text(16, '0123456789abcdef')}`,
  ])();
}

/** A packet that is well-formed on the wire but hostile in content, for after a CONNECT. */
function mqttAfterConnect(rng: Rng): Buffer {
  return rng.pick<() => Buffer>([
    () => mqttEncode({ cmd: 'publish', topic: mqttTopic(rng), payload: rng.bytes(rng.int(512)), qos: rng.int(2), messageId: 1 + rng.int(65_000), retain: false }),
    () => mqttEncode({ cmd: 'publish', topic: `hostile/retained/${rng.text(12, 'abcdef0123456789')}`, payload: rng.bytes(64), qos: 0, retain: true }),
    () => mqttEncode({ cmd: 'subscribe', messageId: 1 + rng.int(65_000), subscriptions: [{ topic: mqttTopic(rng), qos: rng.int(3) }] }),
    () => mqttEncode({ cmd: 'unsubscribe', messageId: 1 + rng.int(65_000), unsubscriptions: [mqttTopic(rng)] }),
    () => mqttEncode({ cmd: 'pingreq' }),
    () => mqttEncode({ cmd: 'puback', messageId: 1 + rng.int(65_000) }),
    () => mqttEncode({ cmd: 'pubrel', messageId: 1 + rng.int(65_000) }),
    () => mqttEncode({ cmd: 'publish', topic: mqttTopic(rng), payload: Buffer.alloc(64 * 1024 + rng.int(200_000)), qos: 0 }),
    () => connectPacket(rng), // a second CONNECT is a protocol violation
    () => rng.bytes(1 + rng.int(64)), // garbage after a good start
    () => Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), // PUBLISH announcing 256 MB, never sent
    () => Buffer.from([0x82, 0x02, 0x00, 0x01]), // SUBSCRIBE without a topic
    () => Buffer.from([0xf0, 0x00]), // reserved packet type 15
  ])();
}

/** Sessions of raw MQTT bytes: garbage, broken CONNECTs, floods, half-open handshakes. */
export function* mqttCorpus(seed: number, minMessages: number): Generator<Session<Buffer>> {
  const rng = new Rng(seed);
  let count = 0;
  const emit = (session: Session<Buffer>) => ((count += session.messages.length), session);
  while (count < minMessages) {
    const roll = rng.int(100);
    if (roll < 15) yield emit({ kind: 'random bytes', messages: [rng.bytes(1 + rng.int(256))] });
    else if (roll < 30) {
      const connect = connectPacket(rng);
      const broken = rng.pick<() => Buffer>([
        () => Buffer.concat([Buffer.from([0x10, 0x04]), Buffer.from('MQTT')]),
        () => { const copy = Buffer.from(connect); copy[8] = rng.int(256); return copy; }, // protocol level
        () => { const copy = Buffer.from(connect); copy[9] = 0xff; return copy; }, // flags incl. reserved bit
        () => { const copy = mqttEncode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: '', keepalive: 0 }); copy[9] = 0; return copy; }, // empty id, no clean session
        () => mqttEncode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'x'.repeat(5_000), keepalive: 65_535 }),
        () => mqttEncode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'w', will: { topic: '#', payload: rng.bytes(100), qos: 2, retain: true } }),
        () => Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]), // remaining length with five bytes
        () => mqttEncode({ cmd: 'publish', topic: 'before/connect', payload: 'x', qos: 0 }),
      ])();
      yield emit({ kind: 'broken connect', messages: [broken] });
    } else if (roll < 40) {
      // Half-open: half a CONNECT (or a valid CONNECT then half a PUBLISH), then silence.
      const messages = rng.int(2) ? [connectPacket(rng)] : [];
      messages.push(mqttEncode({ cmd: rng.int(2) ? 'connect' : 'publish', protocolId: 'MQTT', protocolVersion: 4, clientId: 'half', topic: 'half/open', payload: rng.bytes(300) }));
      yield emit({ kind: 'half-open', messages, halfOpen: true });
    } else if (roll < 55) {
      const subs = Array.from({ length: 30 + rng.int(70) }, (_, i) =>
        mqttEncode({ cmd: 'subscribe', messageId: i + 1, subscriptions: [{ topic: `flood/${rng.text(10)}/${i}`, qos: rng.int(2) }] }),
      );
      yield emit({ kind: 'subscribe flood', messages: [connectPacket(rng), ...subs] });
    } else if (roll < 70) {
      const topic = mqttTopic(rng).replace(/[#+]/g, 'x') || 'flood';
      const pubs = Array.from({ length: 50 + rng.int(100) }, () => mqttEncode({ cmd: 'publish', topic, payload: rng.bytes(rng.int(2_000)), qos: 0 }));
      yield emit({ kind: 'publish flood', messages: [connectPacket(rng), ...pubs] });
    } else {
      const messages = [connectPacket(rng), ...Array.from({ length: 1 + rng.int(40) }, () => mqttAfterConnect(rng))];
      yield emit({ kind: 'hostile packets', messages });
    }
  }
  
}

// ---- Nostr NIP-01 messages (JSON text over WebSocket) ---------------------------------------

/** A validly shaped event whose fields are wrong in some way; `signed` gives real ones to mix in. */
function nostrEvent(rng: Rng, signed: readonly object[]): unknown {
  const hex = (n: number) => rng.text(n, '0123456789abcdef');
  const base = { id: hex(64), pubkey: hex(64), created_at: Math.floor(Date.now() / 1000), kind: 25_050, tags: [['x', hex(64)]], content: rng.text(40), sig: hex(128) };
  return rng.pick<() => unknown>([
    () => base, // well-formed, wrong id: refused before any signature check
    () => ({ ...base, kind: rng.junkValue() }),
    () => ({ ...base, tags: rng.junkValue() }),
    () => ({ ...base, tags: Array.from({ length: 2_000 }, () => ['p', hex(64)]) }),
    () => ({ ...base, content: 'c'.repeat(rng.int(200_000)) }),
    () => ({ ...base, created_at: rng.junkValue() }),
    () => ({ id: base.id }),
    () => rng.junkValue(),
    () => ({ ...rng.pick(signed), content: 'altered' }), // forged content under a real signature
    () => ({ ...rng.pick(signed), pubkey: hex(64) }), // spoofed author
    () => rng.pick(signed), // genuine, replayed
  ])();
}

function nostrFilter(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => ({ kinds: [25_050], '#x': [rng.text(64, '0123456789abcdef')] }),
    () => ({}),
    () => ({ kinds: rng.junkValue(), authors: rng.junkValue() }),
    () => ({ ids: Array.from({ length: 5_000 }, () => rng.text(64, '0123456789abcdef')) }),
    () => ({ limit: rng.junkValue(), since: rng.junkValue() }),
    () => rng.junkValue(),
  ])();
}

function nostrMessage(rng: Rng, signed: readonly object[]): string {
  return rng.pick<() => string>([
    () => rng.text(1 + rng.int(200)), // not JSON
    () => '{"unterminated": [1, 2',
    () => JSON.stringify(rng.junkValue()),
    () => JSON.stringify(['EVENT', nostrEvent(rng, signed)]),
    () => JSON.stringify(['EVENT']),
    () => JSON.stringify(['REQ', rng.junkValue(), nostrFilter(rng)]),
    () => JSON.stringify(['REQ', `sub-${rng.int(1_000_000)}`, nostrFilter(rng), nostrFilter(rng)]),
    () => JSON.stringify(['CLOSE', rng.junkValue()]),
    () => JSON.stringify(['COUNT', 'c', {}]),
    () => JSON.stringify(['AUTH', rng.junkValue()]),
    () => JSON.stringify([rng.text(6), 1, 2, 3]),
    () => '[' + '['.repeat(5_000) + ']'.repeat(5_000) + ']', // deep nesting
  ])();
}

/**
 * Sessions of NIP-01 text: junk, malformed and forged events, REQ/CLOSE floods, oversize
 * messages (above the relay's 256 KiB limit), and half-open sockets. `signed` are genuine
 * events (slow to make, so the caller makes a few) to replay, alter and spoof.
 */
export function* nostrCorpus(seed: number, minMessages: number, signed: readonly object[]): Generator<Session<string>> {
  const rng = new Rng(seed);
  let count = 0;
  const emit = (session: Session<string>) => ((count += session.messages.length), session);
  while (count < minMessages) {
    const roll = rng.int(100);
    if (roll < 50) yield emit({ kind: 'malformed', messages: Array.from({ length: 20 + rng.int(60) }, () => nostrMessage(rng, signed)) });
    else if (roll < 65) {
      const reqs = Array.from({ length: 100 + rng.int(200) }, (_, i) => JSON.stringify(['REQ', `flood-${i}`, { kinds: [25_050], '#x': [rng.text(64, '0123456789abcdef')] }]));
      yield emit({ kind: 'subscribe flood', messages: reqs });
    } else if (roll < 80) {
      const events = Array.from({ length: 100 + rng.int(200) }, () => JSON.stringify(['EVENT', nostrEvent(rng, signed)]));
      yield emit({ kind: 'publish flood', messages: events });
    } else if (roll < 88) yield emit({ kind: 'oversize', messages: [JSON.stringify(['EVENT', { content: 'x'.repeat(300 * 1024 + rng.int(1024 * 1024)) }])] });
    else yield emit({ kind: 'half-open', messages: [nostrMessage(rng, signed), JSON.stringify(['REQ', 'half', {}])], halfOpen: true });
  }
  
}

// ---- PeerServer messages ({ type, payload, dst } JSON over WebSocket) ----------------------

const PEERJS_TYPES = ['OFFER', 'ANSWER', 'CANDIDATE', 'LEAVE', 'HEARTBEAT', 'EXPIRE', 'OPEN', 'ID-TAKEN', 'ERROR', 'FOO'];

function peerJsMessage(rng: Rng, knownIds: readonly string[]): string {
  const dst = rng.pick<() => unknown>([() => rng.pick(knownIds), () => `ghost${rng.int(1_000_000)}`, () => rng.junkValue()])();
  return rng.pick<() => string>([
    () => rng.text(1 + rng.int(200)), // not JSON: PeerServer re-emits it as an 'error' event
    () => JSON.stringify(rng.junkValue()),
    () => JSON.stringify({ type: rng.pick(PEERJS_TYPES), dst, payload: rng.junkValue() }),
    () => JSON.stringify({ type: 'CANDIDATE', dst, src: rng.pick(knownIds), payload: { p2ph: 1, kind: 'signal', signal: rng.junkValue() } }), // spoofed src
    () => JSON.stringify({ type: rng.junkValue(), dst, payload: {} }),
    () => JSON.stringify({ type: 'OFFER', payload: { sdp: 'v=0' } }), // no dst
    () => JSON.stringify({ type: 'OFFER', dst: `ghost${rng.int(100)}`, payload: { sdp: 'x'.repeat(rng.int(50_000)) } }), // queued for an id never online
  ])();
}

/**
 * Sessions for PeerServer: each is one socket whose id comes from `idOf(session)`; junk,
 * spoofed and unroutable messages, signal floods, oversize messages, and half-open sockets.
 */
export function* peerJsCorpus(seed: number, minMessages: number, knownIds: readonly string[]): Generator<Session<string>> {
  const rng = new Rng(seed);
  let count = 0;
  const emit = (session: Session<string>) => ((count += session.messages.length), session);
  while (count < minMessages) {
    const roll = rng.int(100);
    if (roll < 50) yield emit({ kind: 'malformed', messages: Array.from({ length: 20 + rng.int(60) }, () => peerJsMessage(rng, knownIds)) });
    else if (roll < 75) {
      const dst = rng.int(2) ? rng.pick(knownIds) : `ghost${rng.int(1_000)}`;
      const flood = Array.from({ length: 100 + rng.int(200) }, () => JSON.stringify({ type: 'CANDIDATE', dst, payload: { candidate: rng.text(200) } }));
      yield emit({ kind: 'signal flood', messages: flood });
    } else if (roll < 82) yield emit({ kind: 'oversize', messages: [JSON.stringify({ type: 'OFFER', dst: rng.pick(knownIds), payload: 'x'.repeat(1024 * 1024 + rng.int(1024 * 1024)) })] });
    else yield emit({ kind: 'half-open', messages: [peerJsMessage(rng, knownIds), JSON.stringify({ type: 'HEARTBEAT' })], halfOpen: true });
  }
  
}

// ---- A malicious peer's data-channel frames --------------------------------------------------

const u16 = (value: number) => [value >> 8, value & 0xff];
export const u32 = (value: number) => [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];

/**
 * One session per link: every session ends with a frame the handler must refuse (so the link
 * is dropped), after a prefix that is hostile but legal (floods, unfinished chunks). The peer
 * sending it has announced a topic the handler holds on channel 0 (RawPeer does on connect), so
 * WHOLE frames there reach the framing checks.
 */
export function dataChannelCorpus(seed: number, maxMessageBytes: number): Session<Uint8Array>[] {
  const rng = new Rng(seed);
  const fatal: Array<[string, () => Uint8Array[]]> = [
    ['random bytes', () => [Uint8Array.of(7 + rng.int(249), ...rng.bytes(rng.int(300)))]],
    ['truncated header', () => [Uint8Array.of(rng.pick([FrameType.WHOLE, FrameType.START, FrameType.JOIN]), 0)]],
    ['unknown frame type', () => [Uint8Array.of(0, 0, 0, 1), Uint8Array.of(200, ...u16(0), 1, 2, 3)]],
    ['absurd chunk header (GiBs)', () => [Uint8Array.of(FrameType.START, ...u16(0), ...u32(0xffff_fff0 - rng.int(1_000)))]],
    ['chunk header one byte over the limit', () => [Uint8Array.of(FrameType.START, ...u16(0), ...u32(maxMessageBytes + 1))]],
    ['chunk header smaller than its own bytes', () => [Uint8Array.of(FrameType.START, ...u16(0), ...u32(2), 1, 2, 3, 4)]],
    ['continuation without a start', () => [Uint8Array.of(FrameType.CONTINUE, ...rng.bytes(100))]],
    ['never-finished chunks, then a new start', () => [
      Uint8Array.of(FrameType.START, ...u16(0), ...u32(maxMessageBytes), ...rng.bytes(16 * 1024 - 7)),
      ...Array.from({ length: 20 }, () => Uint8Array.of(FrameType.CONTINUE, ...rng.bytes(16 * 1024 - 1))),
      Uint8Array.of(FrameType.START, ...u16(0), ...u32(100_000), 1),
    ]],
    ['interleaved channels in one chunked message', () => [
      Uint8Array.of(FrameType.START, ...u16(0), ...u32(50_000), 1),
      Uint8Array.of(FrameType.WHOLE, ...u16(1), ...Buffer.from('{}')),
    ]],
    ['more bytes than announced', () => [Uint8Array.of(FrameType.START, ...u16(0), ...u32(20), ...Buffer.from('"abcdefghij')), Uint8Array.of(FrameType.CONTINUE, ...rng.bytes(100))]],
    ['message on an unannounced channel', () => [Uint8Array.of(FrameType.WHOLE, ...u16(999), ...Buffer.from('{"id":"x","method":"m","params":[]}'))]],
    ['not UTF-8', () => [Uint8Array.of(FrameType.WHOLE, ...u16(0), 0xff, 0xfe, 0xfd)]],
    ['not JSON', () => [Uint8Array.of(FrameType.WHOLE, ...u16(0), ...Buffer.from('{nope'))]],
    ['topic of absurd length', () => [Uint8Array.of(FrameType.JOIN, ...u16(5), ...Buffer.alloc(4_000, 97))]],
    ['JOIN/LEAVE flood of unknown topics, then too many channels', () => [
      ...Array.from({ length: 2_000 }, (_, i) => (i % 2 ? encodeLeave(10 + (i >> 1) % 500) : encodeJoin(10 + (i >> 1) % 500, `unknown-${rng.text(20)}`))),
      ...Array.from({ length: MAX_CHANNELS + 1 }, (_, i) => encodeJoin(1 + i, `unknown-${i}-${'t'.repeat(2_000)}`)),
    ]],
  ];
  return fatal.map(([kind, make]) => ({ kind, messages: make() }));
}

// ---- What every hostile test checks around its corpus ---------------------------------------
