// @ts-check
// Draws the service graph as SVG: one group per node and per edge, keyed by
// id and updated in place on each redraw, so an element under the pointer is
// never swapped out mid-click. Data attributes name each element so the page
// can be inspected and tested.
import { layeredLayout } from './layered-layout.js';
import { formatErrorRate, formatMs, formatRate } from './format.js';

/** @typedef {import('./live-graph.js').GraphNode} GraphNode */
/** @typedef {import('./live-graph.js').GraphEdge} GraphEdge */

const SVG = 'http://www.w3.org/2000/svg';
const NODE_W = 150;
const NODE_H = 40;
const MIN_VIEW = { width: 1000, height: 420 };

/**
 * @param {string} name
 * @param {Record<string, string | number>} [attributes]
 * @param {string} [text]
 */
function svg(name, attributes = {}, text) {
  const el = document.createElementNS(SVG, name);
  setAttributes(el, attributes);
  if (text !== undefined) el.textContent = text;
  return el;
}

/** @param {Element} el @param {Record<string, string | number>} attributes */
function setAttributes(el, attributes) {
  for (const [k, v] of Object.entries(attributes)) {
    if (el.getAttribute(k) !== String(v)) el.setAttribute(k, String(v));
  }
}

/** @param {Node} el @param {string} text */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** Keeps a label inside its box. @param {string} text @param {number} max */
function clip(text, max) {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * @typedef {object} EdgeElements
 * @property {SVGGElement} group
 * @property {SVGPathElement} hit
 * @property {SVGPathElement} line
 * @property {SVGTitleElement} title
 * @property {SVGTextElement} label
 * @property {SVGTSpanElement} first
 * @property {SVGTSpanElement} second
 */
/**
 * @typedef {object} NodeElements
 * @property {SVGGElement} group
 * @property {SVGTextElement} name
 * @property {SVGTextElement} kind
 * @property {SVGTitleElement} title
 */

export class GraphView {
  #root;
  #onEdgeClick;
  #edgeLayer = svg('g', { class: 'edges' });
  #nodeLayer = svg('g', { class: 'nodes' });
  #labelLayer = svg('g', { class: 'edge-labels' });
  #empty = svg('text', { x: 200, y: 60, 'text-anchor': 'middle', class: 'empty' }, 'waiting for traffic…');
  /** @type {Map<string, EdgeElements>} */
  #edges = new Map();
  /** @type {Map<string, NodeElements>} */
  #nodes = new Map();

  /**
   * @param {SVGSVGElement} root
   * @param {(source: string, destination: string) => void} onEdgeClick
   */
  constructor(root, onEdgeClick) {
    this.#root = root;
    this.#onEdgeClick = onEdgeClick;
    const defs = svg('defs');
    const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerUnits: 'userSpaceOnUse', markerWidth: 10, markerHeight: 10, orient: 'auto-start-reverse' });
    marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }));
    defs.append(marker);
    root.replaceChildren(defs, this.#edgeLayer, this.#nodeLayer, this.#labelLayer, this.#empty);
  }

  /** @param {{ nodes: GraphNode[], edges: GraphEdge[] }} graph */
  draw(graph) {
    if (graph.nodes.length === 0) {
      this.#root.setAttribute('viewBox', '0 0 400 120');
      this.#empty.style.display = '';
    } else {
      this.#empty.style.display = 'none';
    }
    const { positions, width, height } = layeredLayout(graph.nodes.map((n) => n.id), graph.edges, { layerGap: 340, rowGap: 110, margin: 100 });
    if (graph.nodes.length > 0) {
      // Never scale a small graph up: the view box is at least the panel's
      // size, with the drawing centred in it.
      const viewWidth = Math.max(width, MIN_VIEW.width);
      const viewHeight = Math.max(height, MIN_VIEW.height);
      setAttributes(this.#root, { viewBox: `${-(viewWidth - width) / 2} ${-(viewHeight - height) / 2} ${viewWidth} ${viewHeight}` });
    }

    const maxRps = Math.max(0.1, ...graph.edges.map((e) => e.rps));
    // Parallel edges between the same two nodes (other ports/protocols) fan out.
    /** @type {Map<string, number>} */
    const seenPairs = new Map();
    const liveEdges = new Set();
    for (const edge of graph.edges) {
      const from = positions.get(edge.source);
      const to = positions.get(edge.destination);
      if (!from || !to) continue;
      const pair = `${edge.source}\n${edge.destination}`;
      const nth = seenPairs.get(pair) ?? 0;
      seenPairs.set(pair, nth + 1);
      liveEdges.add(edge.id);
      this.#drawEdge(edge, from, to, nth * 28, maxRps);
    }
    for (const [id, elements] of this.#edges) {
      if (liveEdges.has(id)) continue;
      elements.group.remove();
      elements.label.remove();
      this.#edges.delete(id);
    }

    const liveNodes = new Set();
    for (const node of graph.nodes) {
      const p = positions.get(node.id);
      if (!p) continue;
      liveNodes.add(node.id);
      this.#drawNode(node, p);
    }
    for (const [id, elements] of this.#nodes) {
      if (liveNodes.has(id)) continue;
      elements.group.remove();
      this.#nodes.delete(id);
    }
  }

  /**
   * @param {GraphEdge} edge
   * @param {{ x: number, y: number }} from
   * @param {{ x: number, y: number }} to
   * @param {number} bend
   * @param {number} maxRps
   */
  #drawEdge(edge, from, to, bend, maxRps) {
    let elements = this.#edges.get(edge.id);
    if (!elements) {
      const group = /** @type {SVGGElement} */ (svg('g'));
      // A wide transparent stroke makes a thin edge easy to click.
      const hit = /** @type {SVGPathElement} */ (svg('path', { class: 'edge-hit' }));
      const line = /** @type {SVGPathElement} */ (svg('path', { class: 'edge-line', 'marker-end': 'url(#arrow)' }));
      const title = /** @type {SVGTitleElement} */ (svg('title'));
      const label = /** @type {SVGTextElement} */ (svg('text', { 'text-anchor': 'middle', 'data-edge': edge.id }));
      const first = /** @type {SVGTSpanElement} */ (svg('tspan'));
      const second = /** @type {SVGTSpanElement} */ (svg('tspan', { dy: 14 }));
      group.append(hit, line, title);
      label.append(first, second);
      const click = () => this.#onEdgeClick(edge.source, edge.destination);
      group.addEventListener('click', click);
      label.addEventListener('click', click);
      this.#edgeLayer.append(group);
      this.#labelLayer.append(label);
      elements = { group, hit, line, title, label, first, second };
      this.#edges.set(edge.id, elements);
    }

    let d;
    let labelX;
    let labelY;
    if (edge.source === edge.destination) {
      const x = from.x;
      const y = from.y - NODE_H / 2;
      d = `M${x - 20},${y} C${x - 50},${y - 70 - bend} ${x + 50},${y - 70 - bend} ${x + 20},${y}`;
      labelX = x;
      labelY = y - 62 - bend;
    } else if (to.x > from.x) {
      const x1 = from.x + NODE_W / 2;
      const x2 = to.x - NODE_W / 2;
      const mid = (x1 + x2) / 2;
      d = `M${x1},${from.y} C${mid},${from.y + bend} ${mid},${to.y + bend} ${x2},${to.y}`;
      labelX = mid;
      labelY = (from.y + to.y) / 2 + bend - 24;
    } else {
      // Same layer or backwards (a cycle): loop below both nodes.
      const drop = Math.max(from.y, to.y) + NODE_H / 2 + 40 + bend;
      d = `M${from.x},${from.y + NODE_H / 2} C${from.x},${drop} ${to.x},${drop} ${to.x},${to.y + NODE_H / 2}`;
      labelX = (from.x + to.x) / 2;
      labelY = drop - 6;
    }
    const errorRate = edge.requests === 0 ? 0 : edge.errors / edge.requests;
    const health = errorRate >= 0.05 ? 'failing' : errorRate > 0 ? 'erroring' : 'healthy';
    setAttributes(elements.group, {
      class: `edge tls-${edge.tls} ${health}`,
      'data-source': edge.source,
      'data-destination': edge.destination,
      'data-port': edge.port,
      'data-protocol': edge.protocol,
      'data-tls': edge.tls,
      'data-requests': edge.requests,
      'data-errors': edge.errors,
    });
    setAttributes(elements.hit, { d });
    const widthPx = 1.5 + 4 * (Math.log1p(edge.rps) / Math.log1p(maxRps));
    setAttributes(elements.line, { d, 'stroke-width': widthPx.toFixed(2) });
    setText(elements.title, `${edge.source} → ${edge.destination}:${edge.port} ${edge.protocol} ${edge.tls}\n` +
      `${edge.requests} requests, ${edge.errors} errors (${edge.from === 'map' ? 'agent map' : 'live stream'}); click to filter`);
    setAttributes(elements.label, { x: labelX, y: labelY, class: `edge-label tls-${edge.tls} ${health}` });
    setAttributes(elements.first, { x: labelX });
    setAttributes(elements.second, { x: labelX });
    const encryption = edge.tls === 'tls' ? 'TLS' : edge.tls === 'mixed' ? 'TLS+plaintext' : 'plaintext';
    setText(elements.first, `${encryption} · ${edge.protocol} :${edge.port} · ${formatRate(edge.rps)}`);
    setText(elements.second, `err ${formatErrorRate(edge.errors, edge.requests)} · p50 ${formatMs(edge.p50Ms)} · p99 ${formatMs(edge.p99Ms)}`);
  }

  /** @param {GraphNode} node @param {{ x: number, y: number }} p */
  #drawNode(node, p) {
    let elements = this.#nodes.get(node.id);
    if (!elements) {
      const group = /** @type {SVGGElement} */ (svg('g', { class: 'node', 'data-node': node.id }));
      const name = /** @type {SVGTextElement} */ (svg('text', { x: NODE_W / 2, 'text-anchor': 'middle', class: 'node-name' }));
      const kind = /** @type {SVGTextElement} */ (svg('text', { x: NODE_W / 2, y: 32, 'text-anchor': 'middle', class: 'node-kind' }));
      const title = /** @type {SVGTitleElement} */ (svg('title'));
      group.append(svg('rect', { width: NODE_W, height: NODE_H, rx: 8 }), name, kind, title);
      this.#nodeLayer.append(group);
      elements = { group, name, kind, title };
      this.#nodes.set(node.id, elements);
    }
    const sub = [node.namespace, node.kind].filter((s) => s).join(' · ');
    setAttributes(elements.group, { transform: `translate(${p.x - NODE_W / 2},${p.y - NODE_H / 2})` });
    setAttributes(elements.name, { y: sub ? 17 : 25 });
    setText(elements.name, clip(node.label, 20));
    setText(elements.kind, clip(sub, 26));
    setText(elements.title, node.id);
  }
}
