/**
 * What makes a mesh lose no write, added to any of our handlers when RxDB hands the creator
 * its collection (it always does: `replicateWebRTC` passes its whole options object). Every
 * document state that crosses a link carries its version; pushes are decided by those versions
 * on the master side (master-write.ts). RxDB's wire format is unchanged: versions travel in a
 * field RxDB ignores, and peers that send none are answered by RxDB's own rule. The argument
 * is in docs/replication.md.
 */
import { filter } from 'rxjs';
import type { RxCollection } from 'rxdb';
import { P2PError, P2PErrorCode } from '../errors.js';
import { randomId } from '../mesh/options.js';
import type { P2PConnectionHandler, P2PMessage, P2PPeer, P2PResponse, PeerWithMessage, PeerWithResponse } from '../types.js';
import { guardedMasterWrite, type PushedRow } from './master-write.js';
import { VersionBook } from './version-book.js';
import { parseVersion, type Version } from './versions.js';
import type { HandlerGuard } from './attach.js';

/** What `replicateWebRTC` passes to a creator, as far as the guard reads it. */
export interface ReplicationCreatorOptions {
  collection?: unknown;
  push?: { modifier?: unknown };
  pull?: { modifier?: unknown };
  isPeerValid?: (peer: any) => boolean | Promise<boolean>;
}

/** Versions belong to a collection, not to a handler: they must outlive every leave and rejoin. */
const books = new WeakMap<object, VersionBook>();

function bookFor(collection: RxCollection, self: string): VersionBook {
  let book = books.get(collection);
  if (!book) {
    const created = new VersionBook(collection, self);
    collection.onClose.push(() => created.stop());
    books.set(collection, (book = created));
  }
  return book;
}

function isCollection(value: unknown): value is RxCollection {
  const candidate = value as Partial<RxCollection> | null | undefined;
  return typeof candidate?.storageInstance?.changeStream === 'function' && typeof candidate.database === 'object' && Array.isArray(candidate.onClose);
}

/**
 * Wraps handlers for `options.collection`; handlers stay as they are when the creator was
 * called without a collection (the conformance suite, other apps).
 */
export async function prepareGuard(options: ReplicationCreatorOptions): Promise<HandlerGuard> {
  const collection = options?.collection;
  // A modifier changes states between the storage and the wire, so a state sent is not one the
  // book counted: such replications keep RxDB's own rule, as do collections with attachments.
  const modified = options.push?.modifier !== undefined || options.pull?.modifier !== undefined;
  if (!isCollection(collection) || collection.schema.jsonSchema.attachments || modified) return (handler) => handler;
  // The book must watch the storage before RxDB's replications do: it is made here, first.
  // Its name for this database includes a per-book part: the counts start again when a
  // database is opened again, and must not pass for the earlier writes (docs/replication.md).
  const book = bookFor(collection, `${await collection.database.storageToken}.${randomId(6)}`);
  return (handler) => new ReplicationGuard(handler, collection, book, options.isPeerValid).handler;
}

class ReplicationGuard<Handler extends P2PConnectionHandler> {
  readonly handler: Handler;
  private readonly validity = new WeakMap<P2PPeer, Promise<boolean>>();

  constructor(
    private readonly inner: Handler,
    private readonly collection: RxCollection,
    private readonly book: VersionBook,
    private readonly isPeerValid: ReplicationCreatorOptions['isPeerValid'],
  ) {
    // Answered here for every peer, before RxDB sees them (RxDB would answer by content). The
    // subscription ends with the handler: close() completes message$.
    inner.message$.pipe(filter(isPush)).subscribe((data) => void this.answerPush(data));
    this.handler = {
      ...inner,
      message$: inner.message$.pipe(filter((data) => !isPush(data))),
      response$: inner.response$.pipe(filter((data) => this.received(data))),
      send: (peer: P2PPeer, payload: P2PMessage | P2PResponse) => inner.send(peer, this.tagged(payload)),
    };
  }

  /** Records the versions that came with states from a master; passes every response on. */
  private received({ response }: PeerWithResponse): boolean {
    const { result, versions } = response as P2PResponse & { versions?: unknown };
    if (!Array.isArray(versions)) return true;
    const conflicts = Array.isArray(result);
    const states: unknown[] = conflicts ? result : Array.isArray(result?.documents) ? result.documents : [];
    states.forEach((state, index) => {
      const version = parseVersion(versions[index]);
      const id = (state as Record<string, unknown> | null)?.[this.book.primaryPath];
      if (!version || typeof id !== 'string') return;
      if (conflicts) this.book.heardConflict(id, state, version);
      else this.book.heard(id, state, version);
    });
    return true;
  }

  /** Adds the version of every document state the payload carries (pushes, pulls, change stream). */
  private tagged(payload: P2PMessage | P2PResponse): P2PMessage | P2PResponse {
    const message = payload as Partial<P2PMessage>;
    if (message.method === 'masterWrite' && Array.isArray(message.params?.[0])) {
      const rows = message.params[0] as Array<{ newDocumentState?: unknown }>;
      return Object.assign({}, payload, { versions: rows.map((row) => this.versionOf(row?.newDocumentState)) });
    }
    const documents = (payload as Partial<P2PResponse>).result?.documents;
    if (message.method === undefined && Array.isArray(documents)) {
      return Object.assign({}, payload, { versions: documents.map((state: unknown) => this.versionOf(state)) });
    }
    return payload;
  }

  private versionOf(state: unknown): Version | null {
    const id = (state as Record<string, unknown> | null | undefined)?.[this.book.primaryPath];
    return typeof id === 'string' ? this.book.versionOf(id, state) ?? null : null;
  }

  private async answerPush({ peer, message }: PeerWithMessage): Promise<void> {
    if (!(await this.valid(peer))) return;
    let answer: P2PResponse;
    try {
      const pushed = this.parsePush(message);
      const { conflicts, versions } = await guardedMasterWrite(this.collection, this.book, pushed);
      answer = { id: message.id, result: conflicts, versions } as P2PResponse;
    } catch (error) {
      const { code, message: text } = error as { code?: unknown; message?: unknown };
      answer = { id: message.id, result: null, error: { code: typeof code === 'string' ? code : 'ERR_PUSH', message: String(text) } };
    }
    // A peer gone meanwhile is RxDB's disconnect to handle, as for its own answers.
    await this.inner.send(peer, answer).catch(() => undefined);
  }

  private parsePush(message: P2PMessage): PushedRow[] {
    const rows: unknown = message.params?.[0];
    const versions: unknown = (message as P2PMessage & { versions?: unknown }).versions;
    if (!Array.isArray(rows)) throw new P2PError(P2PErrorCode.PROTOCOL, 'masterWrite needs an array of rows');
    return rows.map((row: unknown, index) => {
      const state = (row as { newDocumentState?: unknown } | null)?.newDocumentState as Record<string, unknown> | undefined;
      if (typeof state !== 'object' || state === null || typeof state[this.book.primaryPath] !== 'string') {
        throw new P2PError(P2PErrorCode.PROTOCOL, `masterWrite row ${index} has no document state with a ${this.book.primaryPath}`);
      }
      return { row: row as PushedRow['row'], version: Array.isArray(versions) ? parseVersion(versions[index]) : undefined };
    });
  }

  private valid(peer: P2PPeer): Promise<boolean> {
    let valid = this.validity.get(peer);
    if (!valid) {
      const check = this.isPeerValid;
      valid = check ? Promise.resolve().then(() => check(peer)).then((ok) => !!ok, () => false) : Promise.resolve(true);
      this.validity.set(peer, valid);
    }
    return valid;
  }
}

function isPush({ message }: PeerWithMessage): boolean {
  return message.method === 'masterWrite';
}
