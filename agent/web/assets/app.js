// @ts-check
// The live service-map page: subscribes to the agent's stream with the filter
// from the bar, feeds the graph, the flow table and the anomaly feed, and
// polls /v1/map for the agent's own view of the graph when it has one.
import { AnomalyFeed } from './anomaly-feed.js';
import { cliEquivalent, fieldsFromFilter, filterFromFields, filterFromHash, filterToHash, filterValueForNode, TEXT_KEYS } from './filter-form.js';
import { FlowTable } from './flow-table.js';
import { GraphView } from './graph-view.js';
import { LiveGraph } from './live-graph.js';
import { StreamClient } from './stream-client.js';

const HISTORY = 200;
const REDRAW_MS = 1000;
const MAP_POLL_MS = 5000;
// When the agent has no map (baseline off), ask again now and then, not every few seconds.
const MAP_RETRY_MS = 30_000;

/** @template {Element} [T=HTMLElement] @param {string} id @returns {T} */
function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page element #${id} missing`);
  return /** @type {T} */ (/** @type {unknown} */ (el));
}

const form = /** @type {HTMLFormElement} */ (byId('filters'));
const status = byId('stream-state');
const dropped = byId('dropped');
const filterError = byId('filter-error');
const cliLine = byId('cli-equivalent');
const graphSource = byId('graph-source');
const graphSvg = /** @type {SVGSVGElement} */ (byId('graph'));
const graph = new LiveGraph();
const graphView = new GraphView(graphSvg, showEdge);
const flows = new FlowTable(/** @type {HTMLTableSectionElement} */ (byId('flow-rows')), byId('flow-count'));
const anomalies = new AnomalyFeed(byId('anomaly-list'), byId('anomaly-count'));
let droppedTotal = 0;
let mapAvailable = false;
let graphDirty = true;

const streamUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/stream`;
const stream = new StreamClient(streamUrl, onMessage, (state, detail) => {
  status.textContent = state === 'live' ? 'live' : state === 'connecting' ? 'connecting…' : state === 'retrying' ? detail : 'stopped';
  status.className = `state-${state}`;
});

/** @param {Record<string, unknown>} message */
function onMessage(message) {
  switch (message.type) {
    case 'flow': {
      const flow = /** @type {import('../../schema/flow.js').Flow} */ (message.flow);
      if (!flow || typeof flow !== 'object' || !flow.source || !flow.destination || !flow.http) return;
      graph.addFlow(flow, Date.now());
      flows.add(flow);
      graphDirty = true;
      return;
    }
    case 'anomaly':
      anomalies.add(/** @type {import('../../schema/flow.js').Anomaly} */ (message.anomaly));
      return;
    case 'dropped':
      droppedTotal += Number(message.count) || 0;
      dropped.textContent = `${droppedTotal} dropped (this page fell behind)`;
      dropped.hidden = false;
      return;
    case 'subscribed':
      filterError.textContent = '';
      return;
    case 'error':
      // The agent keeps the socket open after a refused subscription: say why and wait for a new filter.
      filterError.textContent = String(message.message ?? 'the agent refused the subscription');
      status.textContent = 'filter refused';
      status.className = 'state-refused';
      return;
    default:
  }
}

/** @returns {Record<string, string>} */
function readFields() {
  const data = new FormData(form);
  /** @type {Record<string, string>} */
  const fields = {};
  for (const key of [...TEXT_KEYS, 'encryption']) fields[key] = String(data.get(key) ?? '');
  return fields;
}

/** @param {Record<string, string>} fields */
function writeFields(fields) {
  for (const [key, value] of Object.entries(fields)) {
    const input = form.elements.namedItem(key);
    if (input instanceof HTMLInputElement || input instanceof HTMLSelectElement) input.value = value;
  }
}

/** @param {Record<string, string[]>} filter */
function apply(filter) {
  history.replaceState(null, '', `${location.pathname}${filterToHash(filter)}`);
  cliLine.textContent = cliEquivalent(filter);
  filterError.textContent = '';
  graph.clearLive();
  flows.clear();
  anomalies.clear();
  droppedTotal = 0;
  dropped.hidden = true;
  // Edges of the old filter leave the picture now, not at the next tick.
  graphDirty = true;
  redraw();
  stream.subscribe({ kinds: ['flows', 'anomalies'], filter, last: HISTORY });
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  apply(filterFromFields(readFields()));
});
form.addEventListener('reset', (event) => {
  event.preventDefault();
  writeFields(fieldsFromFilter({}));
  apply({});
});

async function pollMap() {
  let next = MAP_RETRY_MS;
  try {
    const response = await fetch('/v1/map', { headers: { accept: 'application/json' } });
    if (response.ok) {
      graph.setMap(await response.json());
      mapAvailable = true;
      next = MAP_POLL_MS;
    } else {
      mapAvailable = false;
    }
  } catch {
    mapAvailable = false;
  }
  graphSource.textContent = mapAvailable ? 'agent map + live stream' : 'live stream (the agent has no map: baseline off)';
  graphDirty = true;
  setTimeout(() => void pollMap(), next);
}

function redraw() {
  if (!graphDirty) return;
  graphDirty = false;
  graphView.draw(graph.snapshot(Date.now()));
}

/** Clicking an edge narrows the stream to the calls along it. @param {string} source @param {string} destination */
function showEdge(source, destination) {
  const fields = readFields();
  fields.from = filterValueForNode(source);
  fields.to = filterValueForNode(destination);
  writeFields(fields);
  apply(filterFromFields(fields));
}

const initial = filterFromHash(location.hash);
writeFields(fieldsFromFilter(initial));
apply(initial);
void pollMap();
// Rates decay with time even without new flows: redraw on a timer.
setInterval(() => {
  graphDirty = true;
  redraw();
}, REDRAW_MS);
redraw();
