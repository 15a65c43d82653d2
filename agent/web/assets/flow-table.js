// @ts-check
// The flow table: newest first, a bounded number of rows. Flows arriving
// between two frames are added in one go, keeping only the newest rows, so a
// burst never makes the page build rows it throws away at once.
import { formatClock, formatMs } from './format.js';
import { endpointName, isErrorFlow } from './live-graph.js';

/** @typedef {import('../../schema/flow.js').Flow} Flow */

const MAX_ROWS = 300;

/** @param {string} tag @param {string} text @param {string} [className] */
function cell(tag, text, className) {
  const el = document.createElement(tag);
  el.textContent = text;
  if (className) el.className = className;
  return el;
}

/** @param {Flow} flow */
function statusText(flow) {
  if (flow.protocol === 'GRPC' && flow.grpc) {
    return flow.grpc.status === undefined ? (flow.grpc.inProgress ? 'open' : '–') : `grpc ${flow.grpc.status}`;
  }
  if (flow.issues?.includes('NO_RESPONSE')) return 'no response';
  return flow.http.status ? String(flow.http.status) : '–';
}

/** @param {Flow} flow */
function pathText(flow) {
  if (flow.grpc) return `/${flow.grpc.service}/${flow.grpc.method}`;
  if (flow.http.headersTrusted === false) return '(headers not trusted)';
  return flow.http.path;
}

export class FlowTable {
  #body;
  #count;
  /** @type {Flow[]} */
  #pending = [];
  #scheduled = false;
  #total = 0;
  /** The flow behind each row, for its detail view. @type {WeakMap<Element, Flow>} */
  #flowOf = new WeakMap();

  /** @param {HTMLTableSectionElement} body @param {HTMLElement} count */
  constructor(body, count) {
    this.#body = body;
    this.#count = count;
    // A click on a row shows the whole record under it (as the stream sent it); another click hides it.
    body.addEventListener('click', (event) => {
      const row = event.target instanceof Element ? event.target.closest('tr.flow') : null;
      const flow = row ? this.#flowOf.get(row) : undefined;
      if (!row || !flow) return;
      const next = row.nextElementSibling;
      if (next?.classList.contains('detail')) {
        next.remove();
        return;
      }
      const detail = document.createElement('tr');
      detail.className = 'detail';
      const td = document.createElement('td');
      td.colSpan = 10;
      const pre = document.createElement('pre');
      pre.textContent = JSON.stringify(flow, null, 2);
      td.append(pre);
      detail.append(td);
      row.after(detail);
    });
  }

  /** @param {Flow} flow */
  add(flow) {
    this.#total++;
    this.#pending.push(flow);
    if (this.#pending.length > MAX_ROWS) this.#pending.splice(0, this.#pending.length - MAX_ROWS);
    if (!this.#scheduled) {
      this.#scheduled = true;
      requestAnimationFrame(() => this.#flush());
    }
  }

  clear() {
    this.#pending = [];
    this.#total = 0;
    this.#body.replaceChildren();
    this.#count.textContent = '0';
  }

  #flush() {
    this.#scheduled = false;
    const rows = this.#pending.reverse().map((flow) => this.#row(flow));
    this.#pending = [];
    if (rows.length >= MAX_ROWS) {
      this.#body.replaceChildren(...rows);
    } else {
      this.#body.prepend(...rows);
      // Trim the oldest rows in one range rather than one removal each.
      const excess = this.#body.rows.length - MAX_ROWS;
      if (excess > 0) {
        const range = document.createRange();
        range.setStartBefore(/** @type {Node} */ (this.#body.rows[MAX_ROWS]));
        range.setEndAfter(/** @type {Node} */ (this.#body.lastChild));
        range.deleteContents();
      }
    }
    this.#count.textContent = String(this.#total);
  }

  /** @param {Flow} flow */
  #row(flow) {
    const tr = document.createElement('tr');
    tr.className = `flow${isErrorFlow(flow) ? ' error' : ''}${flow.tls ? '' : ' plaintext'}`;
    tr.dataset.source = endpointName(flow.source);
    tr.dataset.destination = endpointName(flow.destination);
    tr.dataset.status = String(flow.http.status ?? 0);
    const status = statusText(flow);
    tr.append(
      cell('td', formatClock(flow.time), 'time'),
      cell('td', endpointName(flow.source), 'source'),
      cell('td', `${endpointName(flow.destination)}:${flow.destination.port}`, 'destination'),
      cell('td', flow.protocol, 'protocol'),
      cell('td', flow.http.method, 'method'),
      cell('td', pathText(flow), 'path'),
      cell('td', status, `status s${status.charAt(0)}`),
      cell('td', formatMs(Number(flow.durationNs) / 1e6), 'latency'),
      cell('td', flow.tls ? 'TLS' : 'plain', 'tls'),
      cell('td', flow.observedAt === 'SERVER' ? 'server' : 'client', 'observed'),
    );
    const path = /** @type {HTMLElement} */ (tr.children[5]);
    path.title = pathText(flow);
    this.#flowOf.set(tr, flow);
    return tr;
  }
}
