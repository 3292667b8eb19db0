/** The kit's SessionTransport on its own: ordering of joins and leaves, and the pre-join rule. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { P2PError, P2PErrorCode, SessionTransport, type SignalingEvents, type SignalingSession } from '../src/kit/index.js';

/** A session whose start() resolves when the test says, and that reports whatever the test makes it. */
class ManualSession implements SignalingSession {
  stopped = 0;
  sent: Array<[string, unknown]> = [];
  private finish: (error?: P2PError) => void = () => {};
  constructor(readonly events: SignalingEvents) {}
  start(): Promise<void> {
    return new Promise((resolve, reject) => (this.finish = (error) => (error ? reject(error) : resolve())));
  }
  joined(error?: P2PError): void {
    this.finish(error);
  }
  send(to: string, signal: unknown): void {
    this.sent.push([to, signal]);
  }
  async stop(): Promise<void> {
    this.stopped++;
  }
}

class ManualTransport extends SessionTransport {
  readonly sessions: ManualSession[] = [];
  opening: Promise<void> = Promise.resolve();
  protected async openSession(_room: string, _peerId: string, events: SignalingEvents): Promise<SignalingSession> {
    await this.opening;
    const session = new ManualSession(events);
    this.sessions.push(session);
    return session;
  }
}

function recorder(): { log: string[]; events: SignalingEvents } {
  const log: string[] = [];
  return {
    log,
    events: {
      peerJoined: (id) => log.push(`joined ${id}`),
      peerLeft: (id) => log.push(`left ${id}`),
      signal: (from, signal) => log.push(`signal ${from} ${String(signal)}`),
      lost: (error) => log.push(`lost ${error.code}`),
      error: (error) => log.push(`error ${error.code}`),
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A join in progress on a fresh transport: its session exists, its start() has not resolved. */
async function joinInProgress(): Promise<{ transport: ManualTransport; log: string[]; joining: Promise<void>; session: ManualSession }> {
  const transport = new ManualTransport();
  const { log, events } = recorder();
  const joining = transport.join('room', 'me', events);
  await tick();
  return { transport, log, joining, session: transport.sessions[0]! };
}

test('what a session hears before its join resolves reaches the core after, in order; errors at once', async () => {
  const { log, joining, session } = await joinInProgress();
  session.events.peerJoined('a');
  session.events.signal('a', 'offer');
  session.events.error(new P2PError(P2PErrorCode.PROTOCOL, 'junk'));
  session.events.lost(new P2PError(P2PErrorCode.SIGNALING, 'gone'));
  assert.equal(log, ['error ERR_PROTOCOL']);
  session.joined();
  await joining;
  assert.equal(log, ['error ERR_PROTOCOL', 'joined a', 'signal a offer', 'lost ERR_SIGNALING']);
  session.events.peerLeft('a');
  assert.equal(log.at(-1), 'left a');
});

test('a failed join drops what its session heard, stops it, and sends go nowhere', async () => {
  const { transport, log, joining, session } = await joinInProgress();
  session.events.peerJoined('a');
  session.joined(new P2PError(P2PErrorCode.UNAUTHORIZED, 'no'));
  const refused = await joining.then(() => undefined, (error: P2PError) => error);
  assert.is(refused?.code, P2PErrorCode.UNAUTHORIZED);
  assert.is(session.stopped, 1);
  session.events.peerJoined('b');
  assert.equal(log, []);
  const sent = await Promise.resolve(transport.send('a', 'x')).then(() => undefined, (error: P2PError) => error);
  assert.is(sent?.code, P2PErrorCode.SIGNALING);
});

test('leave() during a join opens nothing, a later join gets a fresh session, and the old one is silent', async () => {
  const transport = new ManualTransport();
  let release!: () => void;
  transport.opening = new Promise((resolve) => (release = resolve));
  const first = recorder();
  // Overtaken at once: no session is even opened.
  const overtaken = transport.join('room', 'me', first.events);
  await transport.leave();
  assert.is(await overtaken.then(() => 'joined', (error: P2PError) => error.code), P2PErrorCode.SIGNALING);
  // Overtaken while its session is being opened: the session is stopped as soon as it exists.
  const joining = transport.join('room', 'me', first.events);
  await tick();
  await transport.leave();
  release();
  assert.is(await joining.then(() => 'joined', (error: P2PError) => error.code), P2PErrorCode.SIGNALING);
  assert.is(transport.sessions.length, 1);
  assert.is(transport.sessions[0]!.stopped, 1);
  const second = recorder();
  const again = transport.join('room', 'me', second.events);
  await tick();
  transport.sessions[1]!.joined();
  await again;
  transport.sessions[0]!.events.peerJoined('ghost');
  transport.sessions[1]!.events.peerJoined('b');
  await transport.send('b', 'hi');
  assert.equal(first.log, []);
  assert.equal(second.log, ['joined b']);
  assert.equal(transport.sessions[1]!.sent, [['b', 'hi']]);
  await transport.leave();
  assert.is(transport.sessions[1]!.stopped, 1);
  transport.sessions[1]!.events.peerLeft('b');
  assert.equal(second.log, ['joined b']);
});

test.run();
