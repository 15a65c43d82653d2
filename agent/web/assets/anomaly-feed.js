// @ts-check
// The anomaly feed: one entry per anomaly id (later records of the same id
// update it in place), newest activity first, bounded.
import { formatClock } from './format.js';
import { endpointName } from './live-graph.js';

/** @typedef {import('../../schema/flow.js').Anomaly} Anomaly */

const MAX_ANOMALIES = 200;

export class AnomalyFeed {
  /** @type {Map<string, Anomaly>} */
  #byId = new Map();
  #list;
  #count;

  /** @param {HTMLElement} list @param {HTMLElement} count */
  constructor(list, count) {
    this.#list = list;
    this.#count = count;
  }

  /** @param {Anomaly} anomaly */
  add(anomaly) {
    if (!anomaly || typeof anomaly.id !== 'string') return;
    this.#byId.delete(anomaly.id);
    this.#byId.set(anomaly.id, anomaly);
    if (this.#byId.size > MAX_ANOMALIES) {
      const oldest = this.#byId.keys().next().value;
      if (oldest !== undefined) this.#byId.delete(oldest);
    }
    this.#render();
  }

  clear() {
    this.#byId.clear();
    this.#render();
  }

  #render() {
    const items = [...this.#byId.values()].reverse().map((a) => {
      const li = document.createElement('li');
      li.className = `anomaly severity-${String(a.severity).toLowerCase()} state-${String(a.state).toLowerCase()}`;
      li.dataset.kind = a.kind;
      li.dataset.id = a.id;
      const head = document.createElement('div');
      head.className = 'anomaly-head';
      const severity = document.createElement('span');
      severity.className = 'badge';
      severity.textContent = a.severity;
      const kind = document.createElement('span');
      kind.className = 'kind';
      kind.textContent = a.kind + (a.state === 'CLOSED' ? ' (closed)' : '');
      const when = document.createElement('span');
      when.className = 'when';
      when.textContent = `${formatClock(a.lastSeen ?? '')} ×${a.count ?? '1'}`;
      head.append(severity, kind, when);
      const edge = document.createElement('div');
      edge.className = 'anomaly-edge';
      const source = a.source ? endpointName(a.source) : '?';
      const destination = a.destination ? `${endpointName(a.destination)}${a.destinationPort ? `:${a.destinationPort}` : ''}` : '?';
      edge.textContent = `${source} → ${destination}${a.endpoint ? `  ${a.endpoint}` : ''}${a.mitreTechnique ? `  [${a.mitreTechnique}]` : ''}`;
      const summary = document.createElement('div');
      summary.className = 'summary';
      summary.textContent = a.summary ?? '';
      li.append(head, edge, summary);
      return li;
    });
    this.#list.replaceChildren(...items);
    this.#count.textContent = String(this.#byId.size);
  }
}
