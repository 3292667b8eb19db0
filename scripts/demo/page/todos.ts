/**
 * The demo's data: one RxDB collection of todos and the conflict rule the page shows at work.
 * Shared by the browser page and the Node peer of the e2e tests, so both replicate the same schema.
 */
import type { RxConflictHandler, RxJsonSchema, WithDeleted } from 'rxdb/plugins/core';

export interface Todo {
  id: string;
  text: string;
  done: boolean;
  /** Milliseconds since the epoch of the last edit, by the editor's clock. */
  updatedAt: number;
  /** Peer name of the last editor; breaks ties between edits in the same millisecond. */
  updatedBy: string;
}

export const todoSchema: RxJsonSchema<Todo> = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 64 },
    text: { type: 'string', maxLength: 500 },
    done: { type: 'boolean' },
    updatedAt: { type: 'number', minimum: 0, maximum: 1e15, multipleOf: 1 },
    updatedBy: { type: 'string', maxLength: 64 },
  },
  required: ['id', 'text', 'done', 'updatedAt', 'updatedBy'],
};

/** What the page tells the user when two peers changed the same todo apart. */
export interface ConflictReport {
  id: string;
  kept: ConflictSide;
  dropped: ConflictSide;
}

export interface ConflictSide {
  text: string;
  done: boolean;
  deleted: boolean;
  updatedAt: number;
  updatedBy: string;
}

type Stored = WithDeleted<Todo>;

const side = (doc: Stored): ConflictSide => ({
  text: doc.text,
  done: doc.done,
  deleted: doc._deleted === true,
  updatedAt: doc.updatedAt,
  updatedBy: doc.updatedBy,
});

/** Later edit first; equal times fall back to the editor's name so every peer picks the same. */
function isNewer(a: Stored, b: Stored): boolean {
  if (a.updatedAt !== b.updatedAt) return a.updatedAt > b.updatedAt;
  return a.updatedBy > b.updatedBy;
}

/**
 * Last writer wins, decided by the edit's own timestamp rather than by which write reached the
 * other side first (RxDB's default keeps the master's), and every decision is reported so the
 * page can show which edit was dropped.
 */
export function lastWriterWins(report: (conflict: ConflictReport) => void): RxConflictHandler<Todo> {
  return {
    isEqual: (a: Stored, b: Stored) =>
      a.text === b.text && a.done === b.done && a.updatedAt === b.updatedAt && a.updatedBy === b.updatedBy && (a._deleted === true) === (b._deleted === true),
    resolve: async ({ newDocumentState: incoming, realMasterState: master }) => {
      const [kept, dropped] = isNewer(incoming, master) ? [incoming, master] : [master, incoming];
      report({ id: master.id, kept: side(kept), dropped: side(dropped) });
      return kept;
    },
  };
}
