/**
 * The embedded Nostr relay (./relay.ts). Its packages are optional peer dependencies, loaded
 * when a relay starts: a missing one is an ERR_MISSING_DEPENDENCY naming it.
 */
import { loadOptional } from '../../../src/optional.js';
import type { NostrRelayServer, NostrRelayServerOptions } from './relay.js';

export type { NostrRelayServer, NostrRelayServerOptions } from './relay.js';

const PACKAGES = ['@nostr-relay/core', '@nostr-relay/common', '@nostr-relay/validator', 'nostr-tools', 'ws'];

export async function startNostrRelay(options?: NostrRelayServerOptions): Promise<NostrRelayServer> {
  const relay = await loadOptional('p2p-handlers/nostr/relay', PACKAGES, () => import('./relay.js'));
  return relay.startNostrRelay(options);
}
