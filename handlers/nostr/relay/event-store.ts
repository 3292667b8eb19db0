import { EventRepository, type Event, type EventRepositoryUpsertResult, type Filter } from '@nostr-relay/common';
import { matchFilter, type Filter as ToolsFilter } from 'nostr-tools/filter';
import type { NostrEvent } from 'nostr-tools/pure';

/** Most stored (non-ephemeral) events kept; the oldest go first. Signaling stores nothing. */
const MAX_STORED_EVENTS = 10_000;

/**
 * The embedded relay's storage: a bounded in-memory list. Signaling only uses ephemeral
 * events, which the relay forwards and never stores; regular events are kept so the relay
 * still behaves like one for other clients (REQ answers them), replaceable ones replace.
 */
export class MemoryEventRepository extends EventRepository {
  private events: Event[] = [];

  isSearchSupported(): boolean {
    return false;
  }

  upsert(event: Event): EventRepositoryUpsertResult {
    if (this.events.some((stored) => stored.id === event.id)) return { isDuplicate: true };
    const key = replaceKey(event);
    if (key !== undefined) {
      const older = this.events.find((stored) => replaceKey(stored) === key);
      if (older && older.created_at > event.created_at) return { isDuplicate: true };
      if (older) this.events = this.events.filter((stored) => stored !== older);
    }
    this.events.push(event);
    if (this.events.length > MAX_STORED_EVENTS) this.events.shift();
    return { isDuplicate: false };
  }

  find(filter: Filter): Event[] {
    // Newest first and `limit` applied, as NIP-01 asks of a REQ's stored events.
    const matching = this.events.filter((event) => matchFilter(filter as ToolsFilter, event as NostrEvent)).reverse();
    return filter.limit === undefined ? matching : matching.slice(0, filter.limit);
  }

  async destroy(): Promise<void> {
    this.events = [];
  }
}

/** NIP-01: kinds 0, 3 and 10000–19999 replace per author; 30000–39999 per author and `d` tag. */
function replaceKey(event: Event): string | undefined {
  const { kind, pubkey } = event;
  if (kind === 0 || kind === 3 || (kind >= 10_000 && kind < 20_000)) return `${kind}:${pubkey}`;
  if (kind >= 30_000 && kind < 40_000) {
    const d = event.tags.find((tag) => tag[0] === 'd')?.[1] ?? '';
    return `${kind}:${pubkey}:${d}`;
  }
  return undefined;
}
