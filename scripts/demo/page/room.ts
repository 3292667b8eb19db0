/**
 * The room as this tab sees it, drawn: this tab in the middle, every peer it has a link to
 * around it, each link coloured by its state and labelled with the signaling service that
 * introduced it and its round-trip time (from WebRTC's own statistics).
 */
import type { LinkState } from './view.js';

export interface RoomPeer {
  id: string;
  name: string;
  state: LinkState;
  /** Milliseconds, once measured. */
  roundTripMs?: number;
}

const SVG = 'http://www.w3.org/2000/svg';
const SIZE = 260;
const CENTER = SIZE / 2;
const RADIUS = 95;

function svgElement<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>, testId?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (testId) node.setAttribute('data-testid', testId);
  return node;
}

function node(x: number, y: number, name: string, self: boolean, id?: string): SVGGElement {
  const group = svgElement('g', { class: self ? 'node self' : 'node' }, 'room-node');
  if (id) group.dataset.peerId = id;
  group.append(svgElement('circle', { cx: x, cy: y, r: self ? 16 : 12 }));
  const label = svgElement('text', { x, y: y + (self ? 30 : 24), 'text-anchor': 'middle' });
  label.textContent = name;
  group.append(label);
  return group;
}

/** `M.m ms`, or `… ms` until measured; under a millisecond (loopback) shows as `<1 ms`. */
export function roundTripText(ms: number | undefined): string {
  if (ms === undefined) return '… ms';
  return ms < 1 ? '<1 ms' : `${Math.round(ms)} ms`;
}

export function renderRoom(svg: SVGSVGElement, selfName: string, transport: string, peers: readonly RoomPeer[]): void {
  svg.setAttribute('viewBox', `0 0 ${SIZE} ${SIZE}`);
  const links: SVGElement[] = [];
  const nodes: SVGElement[] = [node(CENTER, CENTER, selfName, true)];
  peers.forEach((peer, index) => {
    const angle = (2 * Math.PI * index) / Math.max(peers.length, 1) - Math.PI / 2;
    const x = CENTER + RADIUS * Math.cos(angle);
    const y = CENTER + RADIUS * Math.sin(angle);
    const link = svgElement('g', { class: `link ${peer.state}` }, 'room-link');
    link.dataset.peerId = peer.id;
    link.dataset.state = peer.state;
    if (peer.roundTripMs !== undefined) link.dataset.roundTripMs = peer.roundTripMs.toFixed(2);
    link.append(svgElement('line', { x1: CENTER, y1: CENTER, x2: x, y2: y }));
    const label = svgElement('text', { x: (CENTER + x) / 2, y: (CENTER + y) / 2 - 4, 'text-anchor': 'middle' });
    label.textContent = `${transport} · ${roundTripText(peer.roundTripMs)}`;
    link.append(label);
    links.push(link);
    nodes.push(node(x, y, peer.name, false, peer.id));
  });
  // Links under the nodes, so a node's circle is never crossed by a line.
  svg.replaceChildren(...links, ...nodes);
  svg.dataset.peers = String(peers.length);
}
