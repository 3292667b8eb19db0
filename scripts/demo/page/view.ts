/** DOM rendering for the demo page: keyed updates, so typing in a todo is never interrupted by a sync. */
import type { ConflictReport, Todo } from './todos.js';

export interface TodoActions {
  setText(id: string, text: string): void;
  setDone(id: string, done: boolean): void;
  remove(id: string): void;
}

export type LinkState = 'connected' | 'replicating' | 'syncing';

export interface PeerRow {
  id: string;
  /** The tab's name, as its todos show it (a shortened key on Nostr, whose ids are keys). */
  name: string;
  state: LinkState;
  since: number;
  /** The link's round-trip time in ms, once measured. */
  roundTripMs?: number;
}

/**
 * What a peer is called on the page: the tab name its id starts with (the page makes its ids
 * that way), else the id, shortened when it is a long key.
 */
export function peerName(id: string): string {
  const tab = /^(tab-[a-z0-9]+)-[a-z0-9]+$/.exec(id);
  if (tab) return tab[1]!;
  return id.length > 20 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, testId?: string): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  if (testId) node.setAttribute('data-testid', testId);
  return node;
}

function todoRow(todo: Todo, actions: TodoActions): HTMLLIElement {
  const row = element('li', {}, 'todo');
  row.dataset.id = todo.id;
  const done = element('input', { type: 'checkbox' }, 'todo-done');
  done.addEventListener('change', () => actions.setDone(todo.id, done.checked));
  const text = element('input', { type: 'text', maxLength: 500 }, 'todo-text');
  text.setAttribute('aria-label', 'todo text');
  text.addEventListener('change', () => actions.setText(todo.id, text.value));
  const remove = element('button', { type: 'button', textContent: '✕', title: 'delete' }, 'todo-delete');
  remove.addEventListener('click', () => actions.remove(todo.id));
  const meta = element('small', {}, 'todo-meta');
  row.append(done, text, remove, meta);
  return row;
}

function fillRow(row: HTMLLIElement, todo: Todo): void {
  const [done, text, , meta] = row.children as unknown as [HTMLInputElement, HTMLInputElement, HTMLButtonElement, HTMLElement];
  done.checked = todo.done;
  // A field being edited keeps the user's text; the synced value shows once they leave it.
  if (document.activeElement !== text) text.value = todo.text;
  row.classList.toggle('done', todo.done);
  row.dataset.text = todo.text;
  row.dataset.done = String(todo.done);
  meta.textContent = `${todo.updatedBy} · ${new Date(todo.updatedAt).toLocaleTimeString()}`;
}

export function renderTodos(list: HTMLElement, todos: readonly Todo[], actions: TodoActions): void {
  const existing = new Map<string, HTMLLIElement>();
  for (const row of Array.from(list.children) as HTMLLIElement[]) existing.set(row.dataset.id ?? '', row);
  let previous: Element | null = null;
  for (const todo of todos) {
    const row = existing.get(todo.id) ?? todoRow(todo, actions);
    existing.delete(todo.id);
    fillRow(row, todo);
    const expectedPosition: Element | null = previous ? previous.nextElementSibling : list.firstElementChild;
    if (expectedPosition !== row) list.insertBefore(row, expectedPosition);
    previous = row;
  }
  for (const stale of existing.values()) stale.remove();
  list.dataset.count = String(todos.length);
}

const STATE_TEXT: Record<LinkState, string> = {
  connected: 'WebRTC link open',
  replicating: 'replicating, in sync',
  syncing: 'replicating, syncing…',
};

export function renderPeers(list: HTMLElement, peers: readonly PeerRow[]): void {
  list.replaceChildren(
    ...peers.map((peer) => {
      const row = element('li', {}, 'peer');
      row.dataset.peerId = peer.id;
      row.dataset.state = peer.state;
      const name = element('code', { textContent: peer.name, title: peer.id }, 'peer-name');
      const state = element('span', { className: `state ${peer.state}`, textContent: STATE_TEXT[peer.state] });
      const since = element('small', { textContent: ` since ${new Date(peer.since).toLocaleTimeString()}` });
      row.append(name, ' ', state, since);
      return row;
    }),
  );
  list.dataset.count = String(peers.length);
  if (peers.length === 0) list.append(element('li', { className: 'empty', textContent: 'no peer yet: open this page in another tab or browser' }));
}

export type LogKind = 'info' | 'peer' | 'error' | 'conflict';

export function log(list: HTMLElement, kind: LogKind, text: string): void {
  const row = element('li', { className: kind, textContent: `${new Date().toLocaleTimeString()}  ${text}` }, kind === 'conflict' ? 'conflict' : 'log');
  list.prepend(row);
  while (list.children.length > 200) list.lastElementChild?.remove();
}

const describe = (side: ConflictReport['kept']): string =>
  side.deleted ? `deletion by ${side.updatedBy}` : `"${side.text}"${side.done ? ' (done)' : ''} by ${side.updatedBy}`;

export function conflictText(conflict: ConflictReport): string {
  return `conflict on ${conflict.id}: kept the later edit, ${describe(conflict.kept)} at ${new Date(conflict.kept.updatedAt).toLocaleTimeString()}, over ${describe(conflict.dropped)}`;
}
