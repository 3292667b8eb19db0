import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { P2PError, P2PErrorCode } from '../../src/errors.js';
import { createMeshHandlerCreator, type MeshHandlerCreator } from '../../src/mesh/mesh-creator.js';
import { invalidOption, type WebRTCMeshOptions } from '../../src/mesh/options.js';
import type { SignalingEvents, SignalingTransport } from '../../src/mesh/signaling.js';
import type { WebRTCImplementation } from '../../src/mesh/wrtc.js';
import {
  SignalingEvent,
  parseJoined,
  parseSignalingError,
  type ClientToServerEvents,
  type ServerToClientEvents,
  type SignalingAck,
} from './protocol.js';

export interface SocketIoHandlerOptions extends WebRTCMeshOptions {
  /** The signaling server, e.g. `ws://localhost:8080` (ours or the seed's example). Required. */
  url: string;
  /**
   * Extra socket.io-client options, merged over ours. Default: `{ transports: ['websocket'],
   * reconnection: false, forceNew: true }` — the mesh core owns reconnects, with backoff.
   */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /**
   * Secret that lets this peer id be taken over by a later socket that presents it too (a
   * reloaded page with a persisted `peerId`), so its stale entry is replaced at once.
   * Default: none.
   */
  peerToken?: string;
}

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** The seed's protocol (`join`, `joined`, `signal`) over one socket.io connection per join. */
class SocketIoSignaling implements SignalingTransport {
  private socket: ClientSocket | undefined;
  private room = '';
  private peerId = '';

  constructor(private readonly options: SocketIoHandlerOptions) {}

  join(room: string, peerId: string, events: SignalingEvents): Promise<void> {
    this.room = room;
    this.peerId = peerId;
    const socket: ClientSocket = io(this.options.url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      ...this.options.socketOptions,
    });
    this.socket = socket;
    let roster = new Set<string>();
    return new Promise<void>((resolve, reject) => {
      socket.on('connect_error', (error: Error & { data?: { code?: unknown } }) => {
        const refused = error.data?.code === P2PErrorCode.UNAUTHORIZED;
        reject(
          new P2PError(refused ? P2PErrorCode.UNAUTHORIZED : P2PErrorCode.SIGNALING, `cannot reach ${this.options.url}: ${error.message}`, {
            cause: error,
          }),
        );
      });
      socket.on('connect', () => {
        const token = this.options.peerToken;
        socket.emit(SignalingEvent.JOIN, { room, peerId, ...(token ? { token } : {}) }, (ack: SignalingAck) => {
          if (ack?.ok === false) reject(new P2PError(ack.error.code, `join refused: ${ack.error.message}`));
        });
      });
      socket.on(SignalingEvent.JOINED, (ids: unknown, joinedRoom?: unknown) => {
        if (joinedRoom !== undefined && joinedRoom !== room) return;
        const parsed = parseJoined(ids);
        if (!parsed.ok) return events.error(new P2PError(P2PErrorCode.SIGNALING, parsed.message));
        const next = new Set(parsed.value);
        for (const id of roster) if (!next.has(id)) events.peerLeft(id);
        for (const id of next) if (!roster.has(id)) events.peerJoined(id);
        roster = next;
        // Servers without acks (the seed's example) confirm a join only by listing us.
        if (next.has(peerId)) resolve();
      });
      socket.on(SignalingEvent.SIGNAL, (message) => {
        if (typeof message !== 'object' || message === null) return;
        if (message.room !== room || message.to !== peerId || typeof message.from !== 'string') return;
        events.signal(message.from, message.signal);
      });
      socket.on(SignalingEvent.ERROR, (payload: unknown) => {
        const parsed = parseSignalingError(payload);
        events.error(
          parsed.ok
            ? new P2PError(parsed.value.code, `signaling server: ${parsed.value.message}`, { peerId: parsed.value.peerId })
            : new P2PError(P2PErrorCode.SIGNALING, 'the signaling server sent a malformed error'),
        );
      });
      socket.on('disconnect', (reason) => {
        const error = new P2PError(P2PErrorCode.SIGNALING, `disconnected from ${this.options.url} (${reason})`);
        reject(error);
        events.lost(error);
      });
    });
  }

  send(to: string, signal: unknown): void {
    this.socket?.emit(SignalingEvent.SIGNAL, { from: this.peerId, to, room: this.room, signal });
  }

  async leave(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return;
    // Detach first so the disconnect we cause is not reported as a lost connection.
    socket.removeAllListeners();
    socket.disconnect();
  }
}

/** A creator for RxDB 17's `replicateWebRTC` that signals over a socket.io server. */
export function getConnectionHandlerSocketIo(options: SocketIoHandlerOptions): MeshHandlerCreator {
  if (typeof options !== 'object' || options === null) throw invalidOption('options must be an object with a `url`');
  const { url, peerToken } = options;
  if (typeof url !== 'string' || !/^(wss?|https?):\/\//.test(url)) {
    throw invalidOption('`url` must be a ws://, wss://, http:// or https:// URL');
  }
  if (peerToken !== undefined && (typeof peerToken !== 'string' || peerToken.length === 0)) {
    throw invalidOption('`peerToken` must be a non-empty string');
  }
  const { url: _url, socketOptions: _socketOptions, peerToken: _peerToken, ...meshOptions } = options;
  return createMeshHandlerCreator({ options: meshOptions, signaling: () => new SocketIoSignaling(options) });
}

/** The seed document's name and positional signature, so its example reads the same. */
export function getConnectionHandlerSimplePeer(serverUrl: string, wrtc?: WebRTCImplementation): MeshHandlerCreator {
  return getConnectionHandlerSocketIo({ url: serverUrl, ...(wrtc ? { wrtc } : {}) });
}
