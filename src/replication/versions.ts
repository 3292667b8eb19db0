/**
 * Version vectors for document states: which writes (per database, counted) a state includes.
 * They are what lets a mesh tell a newer state from an older copy of the same document, which
 * RxDB's own protocol cannot (it compares contents only, see docs/replication.md).
 */

/** Storage token of a database → how many of its writes to the document the state includes. */
export type Version = Readonly<Record<string, number>>;

export type Order = 'equal' | 'before' | 'after' | 'concurrent';

/** The version of a document state written before any handler watched the collection. */
export const BOTTOM: Version = Object.freeze({});

/** A remote sends at most this many entries per version: one per database that wrote the document. */
export const MAX_VERSION_ENTRIES = 1_024;

/** How `a` relates to `b`: `before` when every write `a` includes is in `b` and `b` has more. */
export function compareVersions(a: Version, b: Version): Order {
  let aAhead = false;
  let bAhead = false;
  for (const [writer, count] of Object.entries(a)) {
    const other = b[writer] ?? 0;
    if (count > other) aAhead = true;
    else if (count < other) bAhead = true;
  }
  for (const [writer, count] of Object.entries(b)) if (!(writer in a) && count > 0) bAhead = true;
  if (aAhead && bAhead) return 'concurrent';
  if (aAhead) return 'after';
  return bAhead ? 'before' : 'equal';
}

/** Every write either includes. */
export function mergeVersions(a: Version, b: Version): Version {
  const merged: Record<string, number> = { ...a };
  for (const [writer, count] of Object.entries(b)) if (count > (merged[writer] ?? 0)) merged[writer] = count;
  return merged;
}

/** A version received from a peer, or undefined when it is not one (never trusted blindly). */
export function parseVersion(value: unknown): Version | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const entries = Object.entries(value);
  if (entries.length > MAX_VERSION_ENTRIES) return undefined;
  for (const [writer, count] of entries) {
    if (writer.length === 0 || writer.length > 256 || !Number.isSafeInteger(count) || (count as number) < 0) return undefined;
  }
  return Object.freeze({ ...(value as Record<string, number>) });
}

/**
 * A document state's content as one string: sorted keys, without RxDB's per-storage
 * bookkeeping, so the same content gives the same key on every peer.
 */
export function contentKey(state: unknown): string {
  return canonical(state, true);
}

function canonical(value: unknown, top: boolean): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonical(item, false)).join(',')}]`;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
  const keys = Object.keys(value)
    .filter((key) => !(top && (key === '_meta' || key === '_rev' || key === '_attachments')))
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key], false)}`).join(',')}}`;
}
