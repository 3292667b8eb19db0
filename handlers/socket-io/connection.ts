import type { ManagerOptions, Socket, SocketOptions } from 'socket.io-client';
import { loadOptional } from '../../src/kit/index.js';
import { JOIN_AUTH_FIELD, SignalingEvent, type ClientToServerEvents, type JoinMessage, type ServerToClientEvents, type SignalMessage } from './protocol.js';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** One socket and the rooms using it. */
export interface SharedSocket {
  readonly socket: ClientSocket;
  /** The server URL this socket dials. */
  readonly url: string;
  users: number;
  /** Set once the socket closed or failed: never handed out again. */
  dead: boolean;
  /**
   * Resolves true once the server has shown it keeps rooms apart on one socket (it acks joins
   * or names the room in `joined`), false if it does not (the seed's example server) or the
   * socket died first.
   */
  readonly roomAware: Promise<boolean>;
  learnRoomAwareness(aware: boolean): void;
}

/**
 * The socket.io connection of one peer, shared by all its rooms (one per RxDB collection),
 * instead of a socket per collection (RxDB #5925). A server that cannot tell rooms apart on one
 * socket (the seed's example sends `joined` without the room) gets a socket per room instead.
 */
export class SocketIoConnection {
  /** Per peer id: a creator may run several peers (one topic opened twice), each with its own socket. */
  private readonly current = new Map<string, SharedSocket>();
  private roomsNeedOwnSocket = false;
  /**
   * Signals are dispatched by room whichever socket brings them: a server that keys sockets by
   * peer id alone (the seed's example) delivers every room's signals to our latest socket.
   */
  private readonly signalHandlers = new Map<string, (message: SignalMessage) => void>();
  /** What the server verified about each sender (its `authenticate` hook's answer). */
  private readonly identities = new Map<string, unknown>();
  /** Index in `urls` of the server the next socket dials. */
  private next = 0;
  /** socket.io-client's `io`, loaded with the first socket (an optional package). */
  private io: typeof import('socket.io-client').io | undefined;

  /** `urls`: one logical service; a socket that fails or drops moves the next one to the following URL. */
  constructor(
    private readonly urls: readonly string[],
    private readonly socketOptions: Partial<ManagerOptions & SocketOptions> | undefined,
  ) {}

  /** `firstJoin`: the join a new socket carries in its handshake (our server then joins at connection). */
  async acquire(firstJoin: JoinMessage): Promise<SharedSocket> {
    this.io ??= (await loadOptional('p2p-handlers/socket-io', ['socket.io-client'], () => import('socket.io-client'))).io;
    const current = this.current.get(firstJoin.peerId);
    if (current && !current.dead && !this.roomsNeedOwnSocket) {
      const shareable = await current.roomAware;
      if (shareable && !current.dead) {
        current.users++;
        return current;
      }
    }
    const fresh = this.open(firstJoin);
    if (!this.roomsNeedOwnSocket) this.current.set(firstJoin.peerId, fresh);
    return fresh;
  }

  /** Fields for the peer object of `peerId`: `{ identity }` once the server vouched for it. */
  peerDetails(peerId: string): object {
    return this.identities.has(peerId) ? { identity: this.identities.get(peerId) } : {};
  }

  onSignal(room: string, peerId: string, handler: ((message: SignalMessage) => void) | undefined): void {
    if (handler) this.signalHandlers.set(`${peerId}\n${room}`, handler);
    else this.signalHandlers.delete(`${peerId}\n${room}`);
  }

  release(shared: SharedSocket): void {
    if (--shared.users > 0) return;
    shared.dead = true;
    shared.learnRoomAwareness(false);
    for (const [peerId, held] of this.current) if (held === shared) this.current.delete(peerId);
    // Detach first so the disconnect we cause is not reported as a lost connection.
    shared.socket.removeAllListeners();
    shared.socket.disconnect();
  }

  /** Called when a room finds out what the server does with several rooms on one socket. */
  learned(shared: SharedSocket, aware: boolean): void {
    if (!aware) this.roomsNeedOwnSocket = true;
    shared.learnRoomAwareness(aware);
  }

  private open(firstJoin: JoinMessage | undefined): SharedSocket {
    const url = this.urls[this.next % this.urls.length]!;
    const options: Partial<ManagerOptions & SocketOptions> = { transports: ['websocket'], reconnection: false, forceNew: true, ...this.socketOptions };
    const socket: ClientSocket = this.io!(url, { ...options, auth: withJoin(options.auth, firstJoin) });
    let settle: (aware: boolean) => void = () => {};
    const roomAware = new Promise<boolean>((resolve) => (settle = resolve));
    const shared: SharedSocket = { socket, url, users: 1, dead: false, roomAware, learnRoomAwareness: (aware) => settle(aware) };
    const die = () => {
      // Fail over once per socket: the mesh core's re-join (with backoff) then dials the next URL.
      if (!shared.dead && this.urls[this.next % this.urls.length] === url) this.next = (this.next + 1) % this.urls.length;
      shared.dead = true;
      settle(false);
    };
    socket.on('connect_error', die);
    socket.on('disconnect', die);
    socket.on(SignalingEvent.SIGNAL, (message: unknown) => {
      if (typeof message !== 'object' || message === null) return;
      const { room, from, to, identity } = message as Partial<SignalMessage>;
      if (typeof room !== 'string' || typeof to !== 'string') return;
      // Whoever holds the id now: a socket without a verified identity that took the id over
      // must not keep the one its previous holder had.
      if (typeof from === 'string') {
        if (identity !== undefined) this.identities.set(from, identity);
        else this.identities.delete(from);
      }
      this.signalHandlers.get(`${to}\n${room}`)?.(message as SignalMessage);
    });
    return shared;
  }
}

type Auth = SocketOptions['auth'];

/**
 * Adds the first room's join to the handshake's `auth` (keeping the user's own fields, also
 * from an auth callback): our server joins at connection, one round trip before the `join`
 * event the client still sends for servers that ignore it (the seed's; ours answers it as a
 * repeat).
 */
function withJoin(auth: Auth | undefined, join: JoinMessage | undefined): Auth | undefined {
  if (!join) return auth;
  if (typeof auth === 'function') return (callback) => auth((data) => callback({ ...data, [JOIN_AUTH_FIELD]: join }));
  return { ...(auth ?? {}), [JOIN_AUTH_FIELD]: join };
}
