import createDebug from 'debug';

/** A printf-style logger (`%s`, `%d`, `%o`) that is silent unless its namespace is enabled. */
export interface TraceLog {
  (format: string, ...args: unknown[]): void;
  readonly enabled: boolean;
}

const logger = (namespace: string): TraceLog => createDebug(`p2p-handlers:${namespace}`) as TraceLog;

/**
 * What the library says when asked, through the `debug` package's switches: `DEBUG=p2p-handlers:*`
 * in Node, `localStorage.debug = 'p2p-handlers:*'` in a browser. Nothing is printed otherwise.
 * Peer ids and topic tags appear; payloads, SDP and secrets never do.
 */
export const trace = {
  /** Joining, losing and leaving signaling rooms; peers heard of; signals in and out by kind. */
  signaling: logger('signaling'),
  /** WebRTC links: attempts, open, close and why, retries and hellos. */
  link: logger('link'),
  /** Topics announced and admitted on links; message frames by size. */
  frame: logger('frame'),
} as const;

/** A signal's kind for a log line, never its content. */
export function signalKind(signal: unknown): string {
  if (typeof signal !== 'object' || signal === null) return typeof signal;
  const { type, data } = signal as { type?: unknown; data?: { type?: unknown } };
  if (type === 'rtc' && typeof data?.type === 'string') return data.type;
  return typeof type === 'string' ? type : 'unknown';
}
