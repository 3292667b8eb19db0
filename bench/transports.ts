/**
 * The handlers under test and their anchors, as "make a new peer" functions over the servers
 * bench/run.ts started. Every peer gets its own creator (one creator = one peer). Our other
 * transports (MQTT, Nostr, PeerJS) are loaded only through their public creator functions and
 * are optional: one whose module is missing or fails to import is skipped with a note.
 */
import { WebSocket } from 'ws';
import { getConnectionHandlerSocketIo } from '../handlers/socket-io/client.js';
import type { WebRTCImplementation } from '../src/mesh/wrtc.js';
import type { P2PConnectionHandler, P2PConnectionHandlerCreator } from '../src/types.js';
import { Cleanup, ICE_CONFIG, errorText, startServerChild, type ServerChild, type ServerInfo, type ServerKind } from './lib.js';

/** A handler as both ours and RxDB's expose it. */
export type Handler = P2PConnectionHandler & { close(): Promise<void> };
/** Makes a new creator, i.e. a new peer (fresh id, fresh signaling connection). */
export type NewPeer = () => P2PConnectionHandlerCreator;

export interface Contender {
  /** `socket.io`, `mqtt`, `nostr`, `peerjs`, `rxdb-simple-peer`, `rxdb-nostr`. */
  name: string;
  newPeer: NewPeer;
}

export interface Contenders {
  ours: Contender[];
  rxdbSimplePeer: Contender;
  /** RxDB's Nostr handler on our embedded relay; undefined when the relay cannot start. */
  rxdbNostr: Contender | undefined;
  servers: Map<ServerKind, ServerChild>;
  notes: string[];
}

/** Starts every server (each in its own process) and builds the contenders that have one. */
export async function startContenders(wrtc: WebRTCImplementation): Promise<Contenders> {
  const kinds: ServerKind[] = ['socket.io', 'rxdb', 'mqtt', 'nostr', 'peerjs'];
  const started = await Promise.allSettled(kinds.map((kind) => startServerChild(kind)));
  const servers = new Map<ServerKind, ServerChild>();
  const notes: string[] = [];
  started.forEach((outcome, index) => {
    if (outcome.status === 'fulfilled') servers.set(kinds[index]!, outcome.value);
    else notes.push(`${kinds[index]}: server not started (${errorText(outcome.reason)}); its rows are skipped`);
  });
  try {
    const infos = new Map([...servers].map(([kind, server]) => [kind, server.info] as const));
    const built = await contendersFor(wrtc, infos);
    return { ...built, servers, notes: [...notes, ...built.notes] };
  } catch (error) {
    await Promise.all([...servers.values()].map((server) => server.stop()));
    throw new Error(`${errorText(error)}${notes.length ? ` (${notes.join('; ')})` : ''}`);
  }
}

/**
 * The contenders reachable through running servers (also used by bench/peer-worker.ts, whose
 * peers live in other processes). The socket.io and RxDB servers are required.
 */
export async function contendersFor(wrtc: WebRTCImplementation, infos: ReadonlyMap<ServerKind, ServerInfo>): Promise<Omit<Contenders, 'servers'>> {
  const socketIo = infos.get('socket.io');
  const rxdbServer = infos.get('rxdb');
  if (!socketIo || !rxdbServer) throw new Error('the socket.io and RxDB servers must be running');
  const notes: string[] = [];
  const common = { wrtc, config: ICE_CONFIG };
  const ours: Contender[] = [{ name: 'socket.io', newPeer: () => getConnectionHandlerSocketIo({ url: socketIo.url, ...common }) }];

  const optional: Array<[ServerKind, (info: ServerInfo) => Promise<NewPeer>]> = [
    ['mqtt', async ({ url }) => {
      const { getConnectionHandlerMqtt } = await import('../handlers/mqtt/client.js');
      return () => getConnectionHandlerMqtt({ url, ...common });
    }],
    ['nostr', async ({ url }) => {
      const { getConnectionHandlerNostr } = await import('../handlers/nostr/client.js');
      return () => getConnectionHandlerNostr({ relays: [url], ...common });
    }],
    ['peerjs', async ({ clientOptions }) => {
      const { getConnectionHandlerPeerJS } = await import('../handlers/peerjs/client.js');
      return () => getConnectionHandlerPeerJS({ ...clientOptions, ...common });
    }],
  ];
  for (const [kind, load] of optional) {
    const info = infos.get(kind);
    if (!info) continue;
    try {
      ours.push({ name: kind, newPeer: await load(info) });
    } catch (error) {
      notes.push(`${kind}: handler module failed to import (${errorText(error)}); its rows are skipped`);
    }
  }

  const { getConnectionHandlerSimplePeer: rxdbSimplePeer, getConnectionHandlerNostr: rxdbNostr } = await rxdbHandlers();
  // RxDB's handlers take the WebRTC implementation and config as given, and in Node 20 a
  // WebSocket class (there is no global one).
  const rxdbCommon = { wrtc: wrtc as any, config: ICE_CONFIG, webSocketConstructor: WebSocket as any };
  const rxdbSimplePeerContender: Contender = {
    name: 'rxdb-simple-peer',
    newPeer: () => rxdbSimplePeer({ signalingServerUrl: rxdbServer.url, ...rxdbCommon }) as unknown as P2PConnectionHandlerCreator,
  };
  const relay = infos.get('nostr');
  const rxdbNostrContender: Contender | undefined = relay && {
    name: 'rxdb-nostr',
    newPeer: () => rxdbNostr({ relays: [relay.url], ...rxdbCommon }) as unknown as P2PConnectionHandlerCreator,
  };
  if (!relay) notes.push('rxdb-nostr: no embedded Nostr relay (startNostrRelay), so no Nostr anchor');
  return { ours, rxdbSimplePeer: rxdbSimplePeerContender, rxdbNostr: rxdbNostrContender, notes };
}

type RxdbWebRTC = typeof import('rxdb/plugins/replication-webrtc');

/**
 * RxDB's two handlers, loaded from the very files its `rxdb/plugins/replication-webrtc` entry
 * re-exports (the same module instances), without the rest of that entry: RxDB's replication
 * and query engine take seconds to load, and P2 starts a process per peer.
 */
async function rxdbHandlers(): Promise<Pick<RxdbWebRTC, 'getConnectionHandlerSimplePeer' | 'getConnectionHandlerNostr'>> {
  const folder = new URL('../node_modules/rxdb/dist/esm/plugins/replication-webrtc/', import.meta.url);
  try {
    const [simplePeer, nostr] = await Promise.all([
      import(new URL('connection-handler-simple-peer.js', folder).href) as Promise<Pick<RxdbWebRTC, 'getConnectionHandlerSimplePeer'>>,
      import(new URL('connection-handler-nostr.js', folder).href) as Promise<Pick<RxdbWebRTC, 'getConnectionHandlerNostr'>>,
    ]);
    return { getConnectionHandlerSimplePeer: simplePeer.getConnectionHandlerSimplePeer, getConnectionHandlerNostr: nostr.getConnectionHandlerNostr };
  } catch {
    return import('rxdb/plugins/replication-webrtc'); // another layout of the package: the slow way
  }
}

/** Every contender by name. */
export function allContenders(contenders: Omit<Contenders, 'servers'>): Contender[] {
  return [...contenders.ours, contenders.rxdbSimplePeer, ...(contenders.rxdbNostr ? [contenders.rxdbNostr] : [])];
}

export async function stopContenders(contenders: Contenders): Promise<void> {
  const servers = [...contenders.servers.values()];
  await Promise.all(servers.map((server) => server.stop()));
  await Promise.all(servers.map((server) => server.exited));
}

/** Opens `topic` on a creator as RxDB 17 does; RxDB 14-style synchronous creators work too. */
export async function open(creator: P2PConnectionHandlerCreator, topic: string): Promise<Handler> {
  return (await (creator as (options: { topic: string }) => unknown)({ topic })) as Handler;
}

/** Calls every creator at once; each handler is closed by `cleanup`, even one that opens late. */
export function openAll(creators: readonly P2PConnectionHandlerCreator[], topic: string, cleanup: Cleanup): Promise<Handler>[] {
  return creators.map((creator) => {
    const opening = open(creator, topic);
    cleanup.add(() => opening.then((handler) => handler.close(), () => {}));
    return opening;
  });
}
