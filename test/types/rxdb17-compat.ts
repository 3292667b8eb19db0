/**
 * Compile-only: our creators and handlers must be assignable to RxDB 17's types, and our
 * handler must satisfy RxDB 14's P2PConnectionHandler shape (`destroy`). Checked by
 * test/types.test.ts with tsc; a type regression fails that test.
 */
import type {
  WebRTCConnectionHandler,
  WebRTCConnectionHandlerCreator,
} from 'rxdb/plugins/replication-webrtc';
import type { Observable } from 'rxjs';
import type { P2PConnectionHandler, P2PConnectionHandlerCreator, P2PPeer } from '../../src/index.js';
import { createWebRTCMeshHandler } from '../../src/index.js';
import { getConnectionHandlerSimplePeer, getConnectionHandlerSocketIo } from '../../handlers/socket-io/client.js';

declare const creator: P2PConnectionHandlerCreator;
declare const handler: P2PConnectionHandler;

export const asRxdb17Creator: WebRTCConnectionHandlerCreator<P2PPeer> = creator;
export const asRxdb17Handler: WebRTCConnectionHandler<P2PPeer> = handler;
export const socketIoCreator: WebRTCConnectionHandlerCreator<P2PPeer> = getConnectionHandlerSocketIo({ url: 'ws://localhost:1' });
export const seedCreator: WebRTCConnectionHandlerCreator<P2PPeer> = getConnectionHandlerSimplePeer('ws://localhost:1');
export const meshHandler: Promise<WebRTCConnectionHandler<P2PPeer>> = createWebRTCMeshHandler({
  topic: 'types-topic',
  signaling: { join: async () => {}, send: () => {}, leave: async () => {} },
});

/** RxDB 14's P2PConnectionHandler, as its docs and sources describe it. */
interface Rxdb14P2PConnectionHandler {
  connect$: Observable<{ id: string }>;
  disconnect$: Observable<{ id: string }>;
  message$: Observable<{ peer: { id: string }; message: { id: string; method: string; params: any[] } }>;
  response$: Observable<{ peer: { id: string }; response: { id: string; result: any } }>;
  error$: Observable<any>;
  send(peer: { id: string }, message: any): Promise<void>;
  destroy(): Promise<void>;
}
export const asRxdb14Handler: Rxdb14P2PConnectionHandler = handler;
