import {
  P2PError, P2PErrorCode, randomId, SealedSignals, SessionTransport,
  type Clock, type SealedRoom, type SignalingEvents, type SignalingSession, type WebSocketConstructor,
} from '../../src/kit/index.js';
import type { PeerServerEndpoint } from './endpoint.js';
import { isPeerJsId, roomKeyOf } from './protocol.js';
import { RoomSession } from './room.js';

export interface PeerJsSignalingSettings {
  endpoint: PeerServerEndpoint;
  /** The WebSocket class, resolved on first use (in Node 20 it loads `ws`). */
  WebSocket: () => Promise<WebSocketConstructor>;
  clock: Clock;
  /** HEARTBEAT interval of each socket. */
  pingIntervalMs: number;
  /** How long one socket may take to be accepted. */
  openTimeoutMs: number;
  /** Token of our member id; random per transport unless the user persists one. */
  token: string | undefined;
  /** Ask `GET /peers` when joining. */
  discovery: boolean;
  probeWindow: number;
  /** The room cipher of a topic (derived once per creator and topic): signals travel sealed. */
  sealedRoom: (topic: string) => Promise<SealedRoom>;
}

/**
 * A SignalingTransport over one PeerServer, used purely for signaling: the mesh core's
 * signals travel as opaque payloads of relayed PeerServer messages, and the core makes and
 * keeps the WebRTC links. Each join is a fresh RoomSession; the tokens outlive them, so a
 * re-join after a lost connection takes over whatever the server still holds for us.
 */
export class PeerJsSignaling extends SessionTransport {
  private current: RoomSession | undefined;
  private discovery: boolean;
  private readonly memberToken: string;
  private readonly slotToken = randomId(24);

  constructor(private readonly settings: PeerJsSignalingSettings) {
    super();
    this.discovery = settings.discovery;
    this.memberToken = settings.token ?? randomId(24);
  }

  /** The room slot this peer holds (newcomers find it there); undefined until claimed. For diagnostics. */
  get slot(): number | undefined {
    return this.current?.slotNumber;
  }

  protected async openSession(room: string, peerId: string, events: SignalingEvents): Promise<SignalingSession> {
    if (!isPeerJsId(peerId)) {
      throw new P2PError(
        P2PErrorCode.INVALID_OPTION,
        `peer id ${JSON.stringify(peerId).slice(0, 80)} is not a PeerJS id (letters and digits, single ' ', '_' or '-' between them)`,
      );
    }
    const [roomKey, WebSocket, sealedRoom] = await Promise.all([roomKeyOf(room), this.settings.WebSocket(), this.settings.sealedRoom(room)]);
    const sealed = new SealedSignals(sealedRoom, peerId);
    const session = new RoomSession(
      {
        ...this.settings,
        WebSocket,
        memberToken: this.memberToken,
        slotToken: this.slotToken,
        discovery: this.discovery,
        discoveryRefused: () => (this.discovery = false),
      },
      roomKey,
      peerId,
      {
        peerJoined: (id) => events.peerJoined(id),
        peerLeft: (id) => events.peerLeft(id),
        lost: (error) => events.lost(error),
        error: (error) => events.error(error),
        // The PeerServer relays signals it can neither read nor alter (src/room-seal.ts).
        signal: (from, payload) => sealed.receive(from, payload, events),
      },
    );
    this.current = session;
    return {
      start: () => session.start(),
      send: (to, signal) => sealed.send(to, signal, (text) => session.sendSignal(to, text)),
      stop: async () => {
        if (this.current === session) this.current = undefined;
        await session.leave();
      },
    };
  }
}
