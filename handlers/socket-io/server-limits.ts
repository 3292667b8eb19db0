/** Per-socket message rate limit: a token bucket plus a count of dropped messages. */

/** A socket that stops being rate-limited for this long is forgiven its earlier drops. */
export const DROP_FORGIVE_MS = 10_000;

/** One function for every limiter: a default-parameter arrow would be a closure per socket. */
const monotonicNow = () => performance.now();

export type RateVerdict = 'accept' | 'drop' | 'disconnect';

export interface RateLimiterOptions {
  messagesPerSecond: number;
  messageBurst: number;
  maxDroppedMessages: number;
  /** Monotonic milliseconds; injectable so tests can move time without sleeping. */
  now?: () => number;
}

export class MessageRateLimiter {
  private readonly ratePerMs: number;
  private readonly burst: number;
  private readonly maxDropped: number;
  private readonly now: () => number;
  private tokens: number;
  private refilledAt: number;
  private dropped = 0;
  private lastDropAt = Number.NEGATIVE_INFINITY;

  constructor({ messagesPerSecond, messageBurst, maxDroppedMessages, now = monotonicNow }: RateLimiterOptions) {
    this.ratePerMs = messagesPerSecond / 1000;
    this.burst = messageBurst;
    this.maxDropped = maxDroppedMessages;
    this.now = now;
    this.tokens = messageBurst;
    this.refilledAt = now();
  }

  /** Accounts for one incoming message. */
  take(): RateVerdict {
    const now = this.now();
    // Refilled lazily on each message, so an idle socket costs no timer.
    this.tokens = Math.min(this.burst, this.tokens + (now - this.refilledAt) * this.ratePerMs);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 'accept';
    }
    if (now - this.lastDropAt > DROP_FORGIVE_MS) this.dropped = 0;
    this.lastDropAt = now;
    this.dropped += 1;
    return this.dropped > this.maxDropped ? 'disconnect' : 'drop';
  }
}
