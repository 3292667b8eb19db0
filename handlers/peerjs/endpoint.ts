import { type TimerSet } from '../../src/kit/index.js';

/** Where a PeerServer is, as the peerjs client's options say it. */
export interface PeerServerEndpoint {
  host: string;
  port: number;
  /** Normalized: starts and ends with '/'. */
  path: string;
  key: string;
  secure: boolean;
  /** For the `/peers` request, as peerjs's option of that name. */
  referrerPolicy?: ReferrerPolicy;
}

/** `/`-wrapped like peerjs does, so `'myapp'` and `'/myapp/'` mean the same mount point. */
export function normalizePath(path: string): string {
  const leading = path.startsWith('/') ? path : `/${path}`;
  return leading.endsWith('/') ? leading : `${leading}/`;
}

function origin(endpoint: PeerServerEndpoint, scheme: 'ws' | 'http'): string {
  const host = endpoint.host.includes(':') && !endpoint.host.startsWith('[') ? `[${endpoint.host}]` : endpoint.host;
  return `${scheme}${endpoint.secure ? 's' : ''}://${host}:${endpoint.port}`;
}

/** The WebSocket URL that claims `id` (PeerServer: `{path}peerjs?key=&id=&token=`). */
export function socketUrl(endpoint: PeerServerEndpoint, id: string, token: string): string {
  const query = new URLSearchParams({ key: endpoint.key, id, token });
  return `${origin(endpoint, 'ws')}${endpoint.path}peerjs?${query}`;
}

/** Human-readable, for error messages. */
export function describeEndpoint(endpoint: PeerServerEndpoint): string {
  return `${origin(endpoint, 'ws')}${endpoint.path}`;
}

export type DiscoveryResult = { ok: true; ids: string[] } | { ok: false; refused: boolean };

/** Upper bound on the listing we read: a busy server lists every id it holds. */
const MAX_LISTING_CHARS = 8 * 1024 * 1024;

/**
 * `GET {path}{key}/peers`: every id on the server, only when it runs with `allow_discovery`
 * (the PeerJS cloud answers 401). `refused` tells a server that said no from a failed request.
 */
export async function listPeers(endpoint: PeerServerEndpoint, timers: TimerSet, timeoutMs: number): Promise<DiscoveryResult> {
  const fetchImpl = (globalThis as { fetch?: typeof fetch }).fetch;
  if (typeof fetchImpl !== 'function') return { ok: false, refused: true };
  const controller = new AbortController();
  const cancel = timers.after(timeoutMs, () => controller.abort());
  try {
    const url = `${origin(endpoint, 'http')}${endpoint.path}${encodeURIComponent(endpoint.key)}/peers`;
    // Node's fetch would keep the socket for seconds; browsers ignore this header.
    const response = await fetchImpl(url, {
      signal: controller.signal,
      headers: { connection: 'close' },
      ...(endpoint.referrerPolicy ? { referrerPolicy: endpoint.referrerPolicy } : {}),
    });
    if (response.status === 401 || response.status === 403 || response.status === 404) {
      await response.body?.cancel();
      return { ok: false, refused: true };
    }
    const text = response.ok ? await response.text() : '';
    const ids: unknown = text.length > 0 && text.length <= MAX_LISTING_CHARS ? JSON.parse(text) : undefined;
    if (!Array.isArray(ids)) return { ok: false, refused: false };
    return { ok: true, ids: ids.filter((id): id is string => typeof id === 'string') };
  } catch {
    return { ok: false, refused: false };
  } finally {
    cancel();
  }
}
