/** Per-socket message rate limit: a token bucket plus a count of dropped messages. */
import { systemClock, type Clock } from '../../../src/mesh/timers.js';

/** A socket that stops being rate-limited for this long is forgiven its earlier drops. */
export const DROP_FORGIVE_MS = 10_000;
/** The bucket counts thousandths of a message, so that whole rates refill by whole numbers. */
const MILLI = 1000;

/**
 * One function for every limiter: a default-parameter arrow would be a closure per socket.
 * Whole milliseconds: a fractional time in a field costs every limiter a boxed number.
 */
const monotonicNow = () => Math.floor(performance.now());

/** Limits run on monotonic time, except under an injected clock (tests), which then drives them too. */
export function limiterNow(clock: Clock): (() => number) | undefined {
  return clock === systemClock ? undefined : () => Math.floor(clock.now());
}

export type RateVerdict = 'accept' | 'drop' | 'disconnect';

export interface RateLimiterOptions {
  messagesPerSecond: number;
  messageBurst: number;
  maxDroppedMessages: number;
  /** Monotonic milliseconds; injectable so tests can move time without sleeping. */
  now?: () => number;
}

/** The limits every socket of one server shares: made once, so a limiter holds only its own counts. */
export class RatePolicy {
  /** Thousandths of a message earned per millisecond (= messages per second). */
  readonly creditPerMs: number;
  readonly maxCredit: number;
  readonly maxDropped: number;
  readonly now: () => number;

  constructor({ messagesPerSecond, messageBurst, maxDroppedMessages, now = monotonicNow }: RateLimiterOptions) {
    this.creditPerMs = messagesPerSecond;
    this.maxCredit = messageBurst * MILLI;
    this.maxDropped = maxDroppedMessages;
    this.now = now;
  }
}

export class MessageRateLimiter {
  private readonly policy: RatePolicy;
  /** Thousandths of a message; a whole number while the rate is one (no boxed double per socket). */
  private credit: number;
  private refilledAt: number;
  private dropped = 0;
  /** Long enough ago that the first drop starts a fresh count (a small integer, unlike -Infinity). */
  private lastDropAt = -DROP_FORGIVE_MS - 1;

  constructor(policy: RatePolicy | RateLimiterOptions) {
    this.policy = policy instanceof RatePolicy ? policy : new RatePolicy(policy);
    this.credit = this.policy.maxCredit;
    this.refilledAt = this.policy.now();
  }

  /** The policy's time of the last message taken, or of the limiter's creation before any. */
  get lastMessageAt(): number {
    return this.refilledAt;
  }

  /** Accounts for one incoming message. */
  take(): RateVerdict {
    const { policy } = this;
    const now = policy.now();
    // Refilled lazily on each message, so an idle socket costs no timer.
    this.credit = Math.min(policy.maxCredit, this.credit + (now - this.refilledAt) * policy.creditPerMs);
    this.refilledAt = now;
    if (this.credit >= MILLI) {
      this.credit -= MILLI;
      return 'accept';
    }
    if (now - this.lastDropAt > DROP_FORGIVE_MS) this.dropped = 0;
    this.lastDropAt = now;
    this.dropped += 1;
    return this.dropped > policy.maxDropped ? 'disconnect' : 'drop';
  }
}

/** Open connections per remote address, for `maxConnectionsPerAddress`. */
export class AddressCounter {
  private readonly open = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Counts one more connection from `address`; false (and nothing counted) when it has its fill. */
  acquire(address: string | undefined): boolean {
    const key = address ?? '';
    const count = this.open.get(key) ?? 0;
    if (count >= this.limit) return false;
    this.open.set(key, count + 1);
    return true;
  }

  release(address: string | undefined): void {
    const key = address ?? '';
    const count = (this.open.get(key) ?? 1) - 1;
    if (count > 0) this.open.set(key, count);
    else this.open.delete(key);
  }
}
