import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import { SocketIoConnection, type SharedSocket } from './connection.js';
import {
  createMeshHandlerCreator, invalidOption, P2PError, P2PErrorCode, redactUrl, sealedRooms, SealedSignals, serverUrls, SessionTransport,
  type MeshHandlerCreator, type SealedRoom, type SignalingEvents, type SignalingSession, type WebRTCImplementation, type WebRTCMeshOptions,
} from '../../src/kit/index.js';
import type { P2PPeer } from '../../src/types.js';
import {
  SignalingEvent,
  parseJoined,
  parseSignalingError,
  type SignalingAck,
} from './protocol.js';

export interface SocketIoHandlerOptions extends WebRTCMeshOptions {
  /**
   * The signaling server, e.g. `ws://localhost:8080` (ours or the seed's example). Required.
   * An array names several processes of one logical service (e.g. our server with the `redis`
   * option): the first is dialled first, and each connect error or lost connection moves the
   * next attempt to the following URL, round-robin, with the same peer id and `peerToken`.
   */
  url: string | readonly string[];
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
  /**
   * Shared by the members of a room: signals are sealed with a key derived from the topic and
   * this secret, so a peer without it can neither read nor forge them (ERR_UNAUTHORIZED). The
   * server sees a hash of the topic and sealed signals whatever this is. Default `''`.
   */
  secret?: string;
}

/** Versions the sealed wire format: peers on another version never share a room. */
export const SOCKET_IO_SEAL_SCHEME = 'p2p-handlers/socket.io/v1';

/** The seed's protocol (`join`, `joined`, `signal`, plus `leave`), one room per session on a shared socket. */
class SocketIoSignaling extends SessionTransport {
  /** The server sends `joined` to the whole room whenever someone joins (ours and the seed's). */
  readonly sharedRoster = true;

  constructor(
    private readonly peerToken: string | undefined,
    private readonly connection: SocketIoConnection,
    private readonly sealedRoom: (topic: string) => Promise<SealedRoom>,
  ) {
    super();
  }

  protected async openSession(topic: string, peerId: string, events: SignalingEvents): Promise<SignalingSession> {
    return new SocketIoSession(await this.sealedRoom(topic), peerId, this.peerToken, this.connection, events);
  }
}

class SocketIoSession implements SignalingSession {
  private readonly sealed: SealedSignals;
  private readonly room: string;
  private shared: SharedSocket | undefined;
  private detach = () => {};
  private stopped = false;
  /** Settles start() when stop() comes first: its listeners are gone by then. */
  private abortStart: (error: P2PError) => void = () => {};

  constructor(
    sealedRoom: SealedRoom,
    private readonly peerId: string,
    private readonly token: string | undefined,
    private readonly connection: SocketIoConnection,
    private readonly events: SignalingEvents,
  ) {
    this.room = sealedRoom.name;
    this.sealed = new SealedSignals(sealedRoom, peerId);
  }

  async start(): Promise<void> {
    const { room, peerId, token, events } = this;
    const shared = await this.connection.acquire({ room, peerId, ...(token ? { token } : {}) });
    if (this.stopped) return this.connection.release(shared);
    this.shared = shared;
    const { socket } = shared;
    let roster = new Set<string>();
    return new Promise<void>((resolve, reject) => {
      this.abortStart = reject;
      const listeners = {
        connect_error: (error: Error & { data?: { code?: unknown } }) => {
          const refused = error.data?.code === P2PErrorCode.UNAUTHORIZED;
          const code = refused ? P2PErrorCode.UNAUTHORIZED : P2PErrorCode.SIGNALING;
          reject(new P2PError(code, `cannot reach ${redactUrl(shared.url)}: ${error.message}`, { cause: error }));
        },
        connect: () => {
          socket.emit(SignalingEvent.JOIN, { room, peerId, ...(token ? { token } : {}) }, (ack: SignalingAck) => {
            if (ack?.ok === false) return reject(new P2PError(ack.error.code, `join refused: ${ack.error.message}`));
            this.connection.learned(shared, true);
          });
        },
        [SignalingEvent.JOINED]: (ids: unknown, joinedRoom?: unknown) => {
          if (joinedRoom !== undefined && joinedRoom !== room) return;
          this.connection.learned(shared, joinedRoom !== undefined);
          const parsed = parseJoined(ids);
          if (!parsed.ok) return events.error(new P2PError(P2PErrorCode.SIGNALING, parsed.message));
          const next = new Set(parsed.value);
          for (const id of roster) if (!next.has(id)) events.peerLeft(id);
          for (const id of next) if (!roster.has(id)) events.peerJoined(id);
          roster = next;
          // Servers without acks (the seed's example) confirm a join only by listing us.
          if (next.has(peerId)) resolve();
        },
        [SignalingEvent.ERROR]: (payload: unknown) => {
          const parsed = parseSignalingError(payload);
          if (parsed.ok && parsed.value.room !== undefined && parsed.value.room !== room) return;
          events.error(
            parsed.ok
              ? new P2PError(parsed.value.code, `signaling server: ${parsed.value.message}`, { peerId: parsed.value.peerId })
              : new P2PError(P2PErrorCode.SIGNALING, 'the signaling server sent a malformed error'),
          );
        },
        disconnect: (reason: string) => {
          const error = new P2PError(P2PErrorCode.SIGNALING, `disconnected from ${redactUrl(shared.url)} (${reason})`);
          reject(error);
          events.lost(error);
        },
      };
      for (const [event, listener] of Object.entries(listeners)) socket.on(event as any, listener as any);
      this.connection.onSignal(room, peerId, (message) => {
        const { from } = message;
        if (message.to === peerId && typeof from === 'string') this.sealed.receive(from, message.signal, events);
      });
      this.detach = () => {
        for (const [event, listener] of Object.entries(listeners)) socket.off(event as any, listener as any);
        this.connection.onSignal(room, peerId, undefined);
      };
      if (socket.connected) listeners.connect();
    });
  }

  send(to: string, signal: unknown): void {
    const { shared, peerId: from, room } = this;
    if (!shared) return;
    this.sealed.send(to, signal, (text) => shared.socket.emit(SignalingEvent.SIGNAL, { from, to, room, signal: text }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abortStart(new P2PError(P2PErrorCode.SIGNALING, 'left while joining'));
    const shared = this.shared;
    this.shared = undefined;
    if (!shared) return;
    // Detach first so nothing this room caused is reported after it left.
    this.detach();
    if (shared.socket.connected) shared.socket.emit(SignalingEvent.LEAVE, { room: this.room });
    this.connection.release(shared);
  }
}

/** A creator for RxDB 17's `replicateWebRTC` that signals over a socket.io server. */
export function getConnectionHandlerSocketIo(options: SocketIoHandlerOptions): MeshHandlerCreator {
  if (typeof options !== 'object' || options === null) throw invalidOption('options must be an object with a `url`');
  const { url, peerToken, secret = '' } = options;
  if (typeof secret !== 'string') throw invalidOption('`secret` must be a string');
  const urls = serverUrls(url, 'url', ['ws', 'wss', 'http', 'https']);
  if (peerToken !== undefined && (typeof peerToken !== 'string' || peerToken.length === 0)) {
    throw invalidOption('`peerToken` must be a non-empty string');
  }
  const { url: _url, socketOptions, peerToken: _peerToken, secret: _secret, ...meshOptions } = options;
  // One connection per creator, i.e. per peer: every collection's room shares its socket.
  const connection = new SocketIoConnection(urls, socketOptions);
  const sealedRoom = sealedRooms(SOCKET_IO_SEAL_SCHEME, secret);
  return createMeshHandlerCreator({
    options: meshOptions,
    signaling: () => new SocketIoSignaling(peerToken, connection, sealedRoom),
    peerDetails: (peerId) => connection.peerDetails(peerId),
  });
}

/** The identity the signaling server's `authenticate` hook verified for `peer`, if any. */
export function getPeerIdentity(peer: P2PPeer): unknown {
  return (peer as P2PPeer & { identity?: unknown }).identity;
}

/** The seed document's name and positional signature, so its example reads the same. */
export function getConnectionHandlerSimplePeer(serverUrl: string, wrtc?: WebRTCImplementation): MeshHandlerCreator {
  return getConnectionHandlerSocketIo({ url: serverUrl, ...(wrtc ? { wrtc } : {}) });
}
