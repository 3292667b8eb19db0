import type { P2PConnectionHandler } from '../types.js';

export type HandlerGuard = <Handler extends P2PConnectionHandler>(handler: Handler) => Handler;

const unguarded: HandlerGuard = (handler) => handler;

/**
 * What a creator applies to the handler it makes: the replication guard (guard.ts) when RxDB
 * called it with a collection, else nothing. Loaded (with rxdb) only then. Call it before
 * joining the room: wrapping is then synchronous, so no peer event fires before RxDB listens.
 */
export async function replicationGuardFor(creatorOptions: unknown): Promise<HandlerGuard> {
  if (!(creatorOptions as { collection?: unknown } | null)?.collection) return unguarded;
  const { prepareGuard } = await import('./guard.js');
  return prepareGuard(creatorOptions as Parameters<typeof prepareGuard>[0]);
}
