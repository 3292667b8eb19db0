/**
 * socket.io's Redis adapter on two node-redis clients (publisher and subscriber), loaded
 * lazily so a single-process server never needs the `redis` packages.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'socket.io';
import { P2PError, P2PErrorCode, redactUrl } from '../../../src/errors.js';
import type { Clock } from '../../../src/mesh/timers.js';

/** Initial connection to Redis; a server that cannot reach it fails to start instead of hanging. */
const CONNECT_TIMEOUT_MS = 5_000;
/** Cap on the delay between reconnects once running: Redis restarts are ridden out, not fatal. */
const MAX_RECONNECT_DELAY_MS = 2_000;
/** A cluster request (fetchSockets, serverSideEmit with ack) gives up after this long. */
export const CLUSTER_REQUEST_TIMEOUT_MS = 3_000;

/**
 * How long a claim lock lives if its process dies holding it: longer than the checks it guards
 * (two cluster requests and a takeover's list), so it never expires under a live claim.
 */
const CLAIM_LOCK_MS = 4 * CLUSTER_REQUEST_TIMEOUT_MS;
/** How often a claim waiting for a lock asks again. */
const CLAIM_LOCK_POLL_MS = 20;
/** Deletes the lock only while it is still ours (it may have expired and been taken since). */
const UNLOCK_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

export interface RedisLink {
  /** Other server processes on the same Redis, plus this one. */
  serverCount(): Promise<number>;
  /**
   * Holds `name` cluster-wide (SET NX with an expiry) until the returned release is called,
   * waiting while another process holds it; rejects if Redis does not grant it in time.
   */
  lock(name: string): Promise<() => Promise<void>>;
  /** Quits both clients. Idempotent. */
  close(): Promise<void>;
}

interface RedisClient {
  connect(): Promise<unknown>;
  duplicate(): RedisClient;
  sendCommand(args: readonly string[]): Promise<unknown>;
  destroy(): void;
  close?(): Promise<void>;
  quit?(): Promise<unknown>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  publish?: (...args: unknown[]) => unknown;
  readonly isOpen: boolean;
}

export async function attachRedis(io: Server, url: string, clock: Clock): Promise<RedisLink> {
  let redisModule: typeof import('redis');
  let adapterModule: typeof import('@socket.io/redis-adapter');
  try {
    [redisModule, adapterModule] = await Promise.all([import('redis'), import('@socket.io/redis-adapter')]);
  } catch (cause) {
    throw new P2PError(P2PErrorCode.INVALID_OPTION, 'option "redis" needs the packages "redis" and "@socket.io/redis-adapter"', { cause });
  }
  let connected = false;
  const pub = redisModule.createClient({
    url,
    socket: {
      connectTimeout: CONNECT_TIMEOUT_MS,
      // Before the first connection a failure is final (start() rejects); after it, retry.
      reconnectStrategy: (retries: number, cause: Error) => (connected ? Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS) : cause),
    },
  }) as unknown as RedisClient;
  const sub = pub.duplicate();
  // node-redis emits 'error' on every failed reconnect; without a listener that is a crash.
  for (const client of [pub, sub]) client.on('error', () => undefined);
  const close = async () => {
    await Promise.allSettled([pub, sub].map((client) => quit(client)));
  };
  try {
    await Promise.all([pub.connect(), sub.connect()]);
  } catch (cause) {
    await close();
    throw new P2PError(P2PErrorCode.SIGNALING, `cannot connect to Redis at ${redactUrl(url)}`, { cause });
  }
  connected = true;
  handlePublishRejections(pub);
  io.adapter(adapterModule.createAdapter(pub, sub, { requestsTimeout: CLUSTER_REQUEST_TIMEOUT_MS }));
  let closing: Promise<void> | undefined;
  return {
    serverCount: () => (io.of('/').adapter as unknown as { serverCount(): Promise<number> }).serverCount(),
    lock: (name) => lock(pub, name, clock),
    close: () => (closing ??= close()),
  };
}

/**
 * The adapter publishes without waiting for the result (fetchSockets, broadcasts, leaves): a
 * publish that meets the client closed by close() rejects with nobody listening, which would
 * crash the process (seen when a queued join ran during shutdown). Such a request then goes
 * unanswered and times out like any other.
 */
function handlePublishRejections(client: RedisClient): void {
  const publish = client.publish;
  if (typeof publish !== 'function') return;
  client.publish = (...args: unknown[]) => {
    const result = publish.apply(client, args);
    if (result instanceof Promise) result.catch(() => undefined);
    return result;
  };
}

async function lock(client: RedisClient, name: string, clock: Clock): Promise<() => Promise<void>> {
  const key = `p2p-lock:${name}`;
  const owner = randomUUID();
  const giveUpAt = clock.now() + CLAIM_LOCK_MS;
  for (;;) {
    // While Redis is down node-redis queues commands without a deadline of its own.
    const granted = await withDeadline(client.sendCommand(['SET', key, owner, 'NX', 'PX', String(CLAIM_LOCK_MS)]), giveUpAt, clock);
    if (granted === 'OK') break;
    if (clock.now() > giveUpAt) throw new Error(`the cluster lock ${name} stayed taken`);
    await new Promise<void>((resolve) => clock.setTimeout(resolve, CLAIM_LOCK_POLL_MS));
  }
  return async () => {
    await client.sendCommand(['EVAL', UNLOCK_SCRIPT, '1', key, owner]).catch(() => undefined);
  };
}

/** `promise`, or a rejection once `deadline` (a `clock.now()` time) passes; a late rejection of `promise` is ignored. */
export function withDeadline<T>(promise: Promise<T>, deadline: number, clock: Clock): Promise<T> {
  let timer: unknown;
  const late = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => reject(new Error('the server cluster did not answer in time')), Math.max(0, deadline - clock.now()));
  });
  promise.catch(() => undefined);
  return Promise.race([promise, late]).finally(() => clock.clearTimeout(timer));
}

async function quit(client: RedisClient): Promise<void> {
  if (!client.isOpen) return;
  try {
    await (client.close ? client.close() : client.quit!());
  } catch {
    client.destroy();
  }
}
