// @ts-check
// A layered (Sugiyama-style) layout: callers left of the services they call.
// Deterministic for a given graph, so the picture does not jump between
// redraws. Cycles are broken by ignoring the edges a depth-first walk finds
// going back; layers are longest paths; order within a layer follows the mean
// position of neighbours (a few sweeps), which keeps crossings down.

/**
 * @typedef {object} LayoutOptions
 * @property {number} [layerGap] horizontal distance between layers
 * @property {number} [rowGap] vertical distance between nodes of a layer
 * @property {number} [margin]
 */

/**
 * @param {string[]} nodeIds
 * @param {{ source: string, destination: string }[]} edges
 * @param {LayoutOptions} [options]
 * @returns {{ positions: Map<string, { x: number, y: number, layer: number }>, width: number, height: number }}
 */
export function layeredLayout(nodeIds, edges, options = {}) {
  const layerGap = options.layerGap ?? 260;
  const rowGap = options.rowGap ?? 90;
  const margin = options.margin ?? 90;
  const ids = [...new Set(nodeIds)].sort();
  const known = new Set(ids);
  /** @type {Map<string, string[]>} */
  const out = new Map(ids.map((id) => [id, []]));
  /** @type {Map<string, string[]>} */
  const incoming = new Map(ids.map((id) => [id, []]));
  for (const e of edges) {
    if (e.source === e.destination || !known.has(e.source) || !known.has(e.destination)) continue;
    out.get(e.source)?.push(e.destination);
    incoming.get(e.destination)?.push(e.source);
  }
  for (const list of out.values()) list.sort();

  // Depth-first walk from roots first (nodes nobody calls), then from the rest:
  // edges into a node still on the walk's path close a cycle and are dropped.
  /** @type {Set<string>} */
  const backEdges = new Set();
  /** @type {Map<string, 'active' | 'done'>} */
  const state = new Map();
  const starts = [...ids.filter((id) => incoming.get(id)?.length === 0), ...ids];
  for (const start of starts) {
    if (state.has(start)) continue;
    /** @type {[string, number][]} */
    const stack = [[start, 0]];
    state.set(start, 'active');
    while (stack.length > 0) {
      const top = /** @type {[string, number]} */ (stack[stack.length - 1]);
      const next = out.get(top[0])?.[top[1]];
      if (next === undefined) {
        state.set(top[0], 'done');
        stack.pop();
        continue;
      }
      top[1]++;
      const s = state.get(next);
      if (s === 'active') backEdges.add(`${top[0]}\n${next}`);
      else if (s === undefined) {
        state.set(next, 'active');
        stack.push([next, 0]);
      }
    }
  }

  // Longest path from the roots over the acyclic remainder (Kahn's order).
  /** @type {Map<string, number>} */
  const layer = new Map(ids.map((id) => [id, 0]));
  /** @type {Map<string, number>} */
  const pending = new Map(ids.map((id) => [id, 0]));
  const forward = (/** @type {string} */ s, /** @type {string} */ d) => !backEdges.has(`${s}\n${d}`);
  for (const [s, list] of out) for (const d of list) if (forward(s, d)) pending.set(d, (pending.get(d) ?? 0) + 1);
  const queue = ids.filter((id) => pending.get(id) === 0);
  for (let i = 0; i < queue.length; i++) {
    const s = /** @type {string} */ (queue[i]);
    for (const d of out.get(s) ?? []) {
      if (!forward(s, d)) continue;
      layer.set(d, Math.max(layer.get(d) ?? 0, (layer.get(s) ?? 0) + 1));
      const left = (pending.get(d) ?? 1) - 1;
      pending.set(d, left);
      if (left === 0) queue.push(d);
    }
  }

  const layerCount = Math.max(0, ...layer.values()) + 1;
  /** @type {string[][]} */
  const layers = Array.from({ length: layerCount }, () => []);
  for (const id of ids) layers[layer.get(id) ?? 0]?.push(id);

  /** @type {Map<string, number>} */
  const row = new Map();
  const renumber = () => layers.forEach((l) => l.forEach((id, i) => row.set(id, i)));
  renumber();
  const meanRow = (/** @type {string[]} */ neighbours, /** @type {number} */ fallback) => {
    const rows = neighbours.map((n) => row.get(n)).filter((r) => r !== undefined);
    return rows.length === 0 ? fallback : rows.reduce((a, b) => a + b, 0) / rows.length;
  };
  for (let sweep = 0; sweep < 4; sweep++) {
    const down = sweep % 2 === 0;
    const order = down ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const l of order) {
      const keyed = l.map((id) => ({ id, key: meanRow((down ? incoming : out).get(id) ?? [], row.get(id) ?? 0) }));
      keyed.sort((a, b) => a.key - b.key || a.id.localeCompare(b.id));
      l.splice(0, l.length, ...keyed.map((k) => k.id));
      renumber();
    }
  }

  const tallest = Math.max(1, ...layers.map((l) => l.length));
  /** @type {Map<string, { x: number, y: number, layer: number }>} */
  const positions = new Map();
  layers.forEach((l, li) => {
    const offset = ((tallest - l.length) * rowGap) / 2;
    l.forEach((id, ri) => positions.set(id, { x: margin + li * layerGap, y: margin + offset + ri * rowGap, layer: li }));
  });
  return { positions, width: margin * 2 + (layerCount - 1) * layerGap, height: margin * 2 + (tallest - 1) * rowGap };
}
