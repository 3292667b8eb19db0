import { P2PError, P2PErrorCode } from '../errors.js';
import { loadOptional } from '../optional.js';

/** The part of the WHATWG WebSocket a transport needs: browsers', Node ≥ 22's and `ws`'s all fit. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `readyState` of an open WebSocket. */
export const WEBSOCKET_OPEN = 1;

/**
 * The WebSocket class to use: the one given, else the platform's (browsers, Node ≥ 22), else
 * `ws`, loaded only now so browser bundles never see it. ERR_MISSING_DEPENDENCY when none exists.
 */
export async function resolveWebSocket(given?: unknown): Promise<WebSocketConstructor> {
  if (given !== undefined) {
    if (typeof given !== 'function') throw new P2PError(P2PErrorCode.INVALID_OPTION, '`WebSocket` must be a WebSocket class');
    return given as WebSocketConstructor;
  }
  const platform = (globalThis as { WebSocket?: unknown }).WebSocket;
  if (typeof platform === 'function') return platform as WebSocketConstructor;
  const moduleName = 'ws';
  // Through a variable, so browser bundles never pull `ws` in.
  const loaded = (await loadOptional('a WebSocket transport without a global WebSocket (Node < 22)', ['ws'], () =>
    import(/* @vite-ignore */ moduleName),
  )) as { WebSocket?: unknown; default?: unknown };
  const found = loaded.WebSocket ?? loaded.default;
  if (typeof found !== 'function') throw new P2PError(P2PErrorCode.INVALID_OPTION, 'the ws module exports no WebSocket class: pass the `WebSocket` option');
  return found as WebSocketConstructor;
}
