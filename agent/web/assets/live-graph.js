// @ts-check
// The service graph the page draws: workloads as nodes, edges with request
// rate, error rate, latency percentiles and TLS state. Built from /v1/map when
// the agent serves it, and from the flow stream always (the stream is what
// keeps rates live when the baseline is off). Pure: no DOM, tested under node.

/** @typedef {import('../../schema/flow.js').Flow} Flow */
/** @typedef {import('../../schema/flow.js').Endpoint} Endpoint */

/**
 * @typedef {object} MapNode
 * @property {string} id
 * @property {string} [workload]
 * @property {string} [namespace]
 * @property {string} [kind]
 */
/**
 * @typedef {object} MapEdge
 * @property {string} source
 * @property {string} destination
 * @property {number} [port]
 * @property {string} [protocol]
 * @property {boolean | string} [tls]
 * @property {number} [requests]
 * @property {number} [errors]
 * @property {number} [p50Ms]
 * @property {number} [p99Ms]
 * @property {number} [rps]
 */
/**
 * @typedef {object} GraphNode
 * @property {string} id
 * @property {string} label
 * @property {string} kind
 * @property {string} namespace
 */
/**
 * @typedef {object} GraphEdge
 * @property {string} id
 * @property {string} source
 * @property {string} destination
 * @property {number} port
 * @property {string} protocol
 * @property {'tls' | 'plaintext' | 'mixed'} tls
 * @property {number} requests
 * @property {number} errors
 * @property {number} rps
 * @property {number | undefined} p50Ms
 * @property {number | undefined} p99Ms
 * @property {'stream' | 'map'} from where the figures come from
 */

const RATE_WINDOW_S = 10;
const LATENCY_SAMPLES = 512;

/**
 * The name a flow end goes by in the flow table and feed: its workload, else
 * its process, else its address (callers add the server's port; a client's is
 * ephemeral and left out).
 * @param {Endpoint} end
 */
export function endpointName(end) {
  return end.workload || end.process || end.ip;
}

/**
 * The graph node a flow end belongs to, named as the agent's /v1/map names
 * them (agent/baseline/graph-node.ts) so map and stream edges meet: the
 * workload (`namespace/workload`), else `process:<comm>` for ends on this
 * host, else the peer's address block (IPv4 /24, IPv6 /64), so a fleet of
 * external clients is one node.
 * @param {Endpoint} end
 * @returns {GraphNode}
 */
export function graphNodeOf(end) {
  if (end.workload) {
    return { id: end.namespace ? `${end.namespace}/${end.workload}` : end.workload, label: end.workload, kind: end.workloadKind || 'workload', namespace: end.namespace ?? '' };
  }
  if (end.process) return { id: `process:${end.process}`, label: end.process, kind: 'process', namespace: '' };
  const block = addressBlock(end.ip);
  return { id: `external:${block}`, label: block, kind: 'external', namespace: '' };
}

/** `198.18.0.7` → `198.18.0.0/24`; `2001:db8::1` → `2001:db8:0:0::/64`. @param {string} ip */
export function addressBlock(ip) {
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/i.exec(ip);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  const groups = expandIPv6(ip.split('%', 1)[0] ?? '');
  if (groups) return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
  return ip === '' ? 'unknown' : ip;
}

/** @param {string} text @returns {number[] | undefined} */
function expandIPv6(text) {
  if (!text.includes(':')) return undefined;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const o = v4.slice(1).map(Number);
    text = `${text.slice(0, v4.index)}${(((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16)}:${(((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16)}`;
  }
  const [head = '', tail] = text.split('::', 2);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headGroups.length - tailGroups.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  const groups = [...headGroups, ...new Array(missing).fill('0'), ...tailGroups].map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN));
  return groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * A call between two processes on this host arrives twice (seen from the
 * client and from the server): the graph counts the server's view only.
 * @param {Flow} flow
 */
export function countsOnGraph(flow) {
  if (flow.grpc?.inProgress) return false;
  return !(flow.observedAt === 'CLIENT' && flow.source.pid && flow.destination.pid);
}

/** HTTP ≥ 500, gRPC not OK, or no response (4xx is not an error: as in the metrics). @param {Flow} flow */
export function isErrorFlow(flow) {
  if (flow.issues?.includes('NO_RESPONSE')) return true;
  if (flow.protocol === 'GRPC' && flow.grpc?.status !== undefined) return flow.grpc.status !== 0;
  return (flow.http.status ?? 0) >= 500;
}

/** @param {number[]} sorted @param {number} q */
function quantile(sorted, q) {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

class LiveEdge {
  /** @param {string} source @param {string} destination @param {number} port @param {string} protocol */
  constructor(source, destination, port, protocol) {
    this.source = source;
    this.destination = destination;
    this.port = port;
    this.protocol = protocol;
    this.requests = 0;
    this.errors = 0;
    this.tlsCalls = 0;
    this.plainCalls = 0;
    /** Requests per whole second (receive time), for the last RATE_WINDOW_S seconds. @type {Map<number, number>} */
    this.perSecond = new Map();
    /** The latest latencies in ms, a ring. @type {number[]} */
    this.latencies = [];
    this.nextLatency = 0;
  }

  /** @param {Flow} flow @param {number} nowMs */
  add(flow, nowMs) {
    this.requests++;
    if (isErrorFlow(flow)) this.errors++;
    if (flow.tls) this.tlsCalls++;
    else this.plainCalls++;
    const second = Math.floor(nowMs / 1000);
    this.perSecond.set(second, (this.perSecond.get(second) ?? 0) + 1);
    for (const s of this.perSecond.keys()) if (s <= second - RATE_WINDOW_S) this.perSecond.delete(s);
    const ms = Number(flow.durationNs) / 1e6;
    if (Number.isFinite(ms)) {
      if (this.latencies.length < LATENCY_SAMPLES) this.latencies.push(ms);
      else this.latencies[this.nextLatency] = ms;
      this.nextLatency = (this.nextLatency + 1) % LATENCY_SAMPLES;
    }
  }

  /** @param {number} nowMs */
  rps(nowMs) {
    const second = Math.floor(nowMs / 1000);
    let total = 0;
    for (const [s, n] of this.perSecond) if (s > second - RATE_WINDOW_S) total += n;
    return total / RATE_WINDOW_S;
  }
}

export class LiveGraph {
  /** Nodes by id. @type {Map<string, GraphNode>} */
  #nodes = new Map();
  /** @type {Map<string, LiveEdge>} */
  #live = new Map();
  /** @type {GraphEdge[]} */
  #mapEdges = [];
  /** @type {Map<string, GraphNode>} */
  #mapNodes = new Map();
  #flows = 0;

  /** Flows counted on the graph since the last clear. */
  get flowsCounted() {
    return this.#flows;
  }

  /** @param {Flow} flow @param {number} nowMs receive time */
  addFlow(flow, nowMs) {
    if (!countsOnGraph(flow)) return;
    this.#flows++;
    const source = this.#node(flow.source);
    const destination = this.#node(flow.destination);
    const key = edgeId(source, destination, flow.destination.port, flow.protocol);
    let edge = this.#live.get(key);
    if (!edge) {
      edge = new LiveEdge(source, destination, flow.destination.port, flow.protocol);
      this.#live.set(key, edge);
    }
    edge.add(flow, nowMs);
  }

  /** Replaces what /v1/map said. @param {{ nodes?: MapNode[], edges?: MapEdge[] }} map */
  setMap(map) {
    this.#mapNodes = new Map();
    for (const n of Array.isArray(map.nodes) ? map.nodes : []) {
      if (!n || typeof n.id !== 'string') continue;
      this.#mapNodes.set(n.id, { id: n.id, label: n.workload || n.id, kind: n.kind ?? '', namespace: n.namespace ?? '' });
    }
    this.#mapEdges = [];
    for (const e of Array.isArray(map.edges) ? map.edges : []) {
      if (!e || typeof e.source !== 'string' || typeof e.destination !== 'string') continue;
      const port = Number(e.port ?? 0);
      const protocol = String(e.protocol ?? '');
      this.#mapEdges.push({
        id: edgeId(e.source, e.destination, port, protocol),
        source: e.source,
        destination: e.destination,
        port,
        protocol,
        tls: e.tls === true || e.tls === 'tls' ? 'tls' : e.tls === 'mixed' ? 'mixed' : 'plaintext',
        requests: Number(e.requests ?? 0),
        errors: Number(e.errors ?? 0),
        rps: Number(e.rps ?? 0),
        p50Ms: e.p50Ms === undefined ? undefined : Number(e.p50Ms),
        p99Ms: e.p99Ms === undefined ? undefined : Number(e.p99Ms),
        from: 'map',
      });
    }
  }

  /** Forgets what came from the stream (a new filter, a new subscription). */
  clearLive() {
    this.#live.clear();
    this.#nodes.clear();
    this.#flows = 0;
  }

  /**
   * Nodes and edges to draw. An edge seen on the stream shows the stream's
   * figures (they follow the filter); map edges fill in the rest.
   * @param {number} nowMs
   * @returns {{ nodes: GraphNode[], edges: GraphEdge[] }}
   */
  snapshot(nowMs) {
    /** @type {Map<string, GraphEdge>} */
    const edges = new Map();
    for (const e of this.#mapEdges) edges.set(e.id, e);
    for (const [id, e] of this.#live) {
      const sorted = [...e.latencies].sort((a, b) => a - b);
      edges.set(id, {
        id,
        source: e.source,
        destination: e.destination,
        port: e.port,
        protocol: e.protocol,
        tls: e.tlsCalls > 0 && e.plainCalls > 0 ? 'mixed' : e.tlsCalls > 0 ? 'tls' : 'plaintext',
        requests: e.requests,
        errors: e.errors,
        rps: e.rps(nowMs),
        p50Ms: quantile(sorted, 0.5),
        p99Ms: quantile(sorted, 0.99),
        from: 'stream',
      });
    }
    /** @type {Map<string, GraphNode>} */
    const nodes = new Map([...this.#mapNodes, ...this.#nodes]);
    for (const e of edges.values()) {
      for (const id of [e.source, e.destination]) {
        if (!nodes.has(id)) nodes.set(id, { id, label: id, kind: '', namespace: '' });
      }
    }
    return { nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)), edges: [...edges.values()].sort((a, b) => a.id.localeCompare(b.id)) };
  }

  /** @param {Endpoint} end */
  #node(end) {
    const node = graphNodeOf(end);
    if (!this.#nodes.has(node.id)) this.#nodes.set(node.id, node);
    return node.id;
  }
}

/** @param {string} source @param {string} destination @param {number} port @param {string} protocol */
function edgeId(source, destination, port, protocol) {
  return `${source} → ${destination}:${port}/${protocol}`;
}
