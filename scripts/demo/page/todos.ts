/**
 * The demo's data: one RxDB collection of todos and the conflict rule the page shows at work.
 * Shared by the browser page and the Node peer of the e2e tests, so both replicate the same schema.
 */
import type { RxConflictHandler, RxJsonSchema, WithDeleted } from 'rxdb/plugins/core';
import { lastWriteWinsConflictHandler } from '../../../src/rxdb.js';

export interface Todo {
  id: string;
  text: string;
  done: boolean;
  /** Milliseconds since the epoch of the last edit, by the editor's clock. */
  updatedAt: number;
  /** Tab name of the last editor, shown next to the todo. */
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

/**
 * The library's last-writer-wins rule on `updatedAt` (the edit's own time, not the order
 * writes reached each peer: in a mesh an older copy can arrive last), wrapped so that every
 * decision is reported and the page can show which edit was dropped.
 */
export function lastWriterWins(report: (conflict: ConflictReport) => void): RxConflictHandler<Todo> {
  const rule = lastWriteWinsConflictHandler<Todo>('updatedAt');
  return {
    isEqual: rule.isEqual,
    resolve: async (input, context) => {
      const kept = await rule.resolve(input, context);
      const dropped = kept === input.newDocumentState ? input.realMasterState : input.newDocumentState;
      report({ id: input.realMasterState.id, kept: side(kept), dropped: side(dropped) });
      return kept;
    },
  };
}
