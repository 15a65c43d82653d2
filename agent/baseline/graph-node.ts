// Nodes of the service graph: a workload when identity named one, else the
// process for ends on this host, else the address block the peer lives in
// (IPv4 /24, IPv6 /64), so a fleet of external clients is one node and not
// thousands.
import { isIPv4, isIPv6 } from 'node:net';
import type { Endpoint } from '../schema/flow.js';

export type NodeKind = 'workload' | 'process' | 'host' | 'external' | string;

export interface GraphNode {
  /** Stable name of the node: `namespace/workload`, `process:nginx`, `external:198.18.0.0/24`, `host:127.0.0.0/24`. */
  id: string;
  /** The workload, process or block name shown on the map. */
  workload: string;
  namespace?: string;
  /** The workload kind (Deployment, …), 'workload' when identity gave none, 'process', 'host' (loopback) or 'external'. */
  kind: NodeKind;
}

/** The graph node an end of a flow belongs to. */
export function nodeOf(end: Endpoint): GraphNode {
  if (end.workload) {
    return {
      id: end.namespace ? `${end.namespace}/${end.workload}` : end.workload,
      workload: end.workload,
      ...(end.namespace ? { namespace: end.namespace } : {}),
      kind: end.workloadKind || 'workload',
    };
  }
  // `process` is only set for ends that are processes on this host (local, or a loopback peer).
  if (end.process) return { id: `process:${end.process}`, workload: end.process, kind: 'process' };
  // A loopback peer whose process is not tracked is still this host, not the outside world.
  const kind = isLoopback(end.ip) ? 'host' : 'external';
  const block = `${kind}:${addressBlock(end.ip)}`;
  return { id: block, workload: block, kind };
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.');
}

/** `198.18.0.7` → `198.18.0.0/24`; `2001:db8::1` → `2001:db8:0:0::/64`; anything else as given. */
export function addressBlock(ip: string): string {
  const mapped = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  if (isIPv4(mapped)) {
    const parts = mapped.split('.');
    return `${parts[0]}.${parts[1]}.${parts[2]}.0/24`;
  }
  if (isIPv6(mapped)) {
    const groups = expandIPv6(mapped.split('%', 1)[0]!);
    if (groups) return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
  }
  return ip === '' ? 'unknown' : ip;
}

/** The eight 16-bit groups of an IPv6 address (IPv4-suffixed forms included). */
function expandIPv6(ip: string): number[] | undefined {
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    text = `${text.slice(0, v4.index)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::', 2) as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headGroups.length - tailGroups.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  const groups = [...headGroups, ...new Array<string>(missing).fill('0'), ...tailGroups].map((g) => parseInt(g, 16));
  return groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * Interns graph nodes so that one node is one object: the baseline indexes
 * edges by node identity, and the hot path resolves an end without building
 * strings. Bounded: past `max` cached ends the lookup caches start over (the
 * canonical nodes of live edges are kept by the caller's `keep`).
 */
export class NodeInterner {
  readonly #byId = new Map<string, GraphNode>();
  /** namespace ('' for none) → workload → node. */
  #workloads = new Map<string, Map<string, GraphNode>>();
  #processes = new Map<string, GraphNode>();
  #addresses = new Map<string, GraphNode>();
  #cached = 0;

  constructor(readonly max = 50_000) {}

  nodeFor(end: Endpoint): GraphNode {
    if (end.workload) {
      const namespace = end.namespace ?? '';
      let byName = this.#workloads.get(namespace);
      const hit = byName?.get(end.workload);
      if (hit) return hit;
      const node = this.intern(nodeOf(end));
      if (!byName) this.#workloads.set(namespace, (byName = new Map()));
      byName.set(end.workload, node);
      this.#count();
      return node;
    }
    const table = end.process ? this.#processes : this.#addresses;
    const key = end.process || end.ip;
    const hit = table.get(key);
    if (hit) return hit;
    const node = this.intern(nodeOf(end));
    table.set(key, node);
    this.#count();
    return node;
  }

  /** The canonical node for this id (the given one when new). */
  intern(node: GraphNode): GraphNode {
    const known = this.#byId.get(node.id);
    if (known) return known;
    this.#byId.set(node.id, node);
    return node;
  }

  /** Forgets every cached end and every node not in `keep` (the nodes of live edges). */
  prune(keep: Iterable<GraphNode>): void {
    this.#workloads = new Map();
    this.#processes = new Map();
    this.#addresses = new Map();
    this.#cached = 0;
    this.#overflowed = false;
    this.#byId.clear();
    for (const node of keep) this.#byId.set(node.id, node);
  }

  #count(): void {
    if (++this.#cached > this.max) this.#overflowed = true;
  }

  #overflowed = false;

  /** True once more than `max` ends were cached since the last prune: time to prune. */
  get full(): boolean {
    return this.#overflowed;
  }
}
