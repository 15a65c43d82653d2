// The service map: the baseline's graph as plain data, the shape GET /v1/map
// serves and `flowscope map` prints.
import type { Protocol } from '../schema/flow.js';
import type { Baseline } from './baseline.js';

export interface ServiceMapNode {
  id: string;
  workload: string;
  namespace?: string;
  kind: string;
}

export interface ServiceMapEdge {
  /** Node ids. */
  source: string;
  destination: string;
  port: number;
  protocol: Protocol;
  tls: boolean;
  requests: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** Requests per second over the last minute or so. */
  rps: number;
}

export interface ServiceMap {
  nodes: ServiceMapNode[];
  edges: ServiceMapEdge[];
}

/** Sorted by node id, then edges by (source, destination, port, protocol, tls). */
export function serviceMap(baseline: Baseline, nowMs = Date.now()): ServiceMap {
  const nodes = new Map<string, ServiceMapNode>();
  const edges: ServiceMapEdge[] = [];
  for (const edge of baseline.edges()) {
    for (const node of [edge.source, edge.destination]) {
      if (!nodes.has(node.id)) {
        nodes.set(node.id, { id: node.id, workload: node.workload, ...(node.namespace ? { namespace: node.namespace } : {}), kind: node.kind });
      }
    }
    edges.push({
      source: edge.source.id,
      destination: edge.destination.id,
      port: edge.port,
      protocol: edge.protocol,
      tls: edge.tls,
      requests: edge.requests,
      errors: edge.errors,
      p50Ms: round3(edge.latencyMs.quantile(0.5)),
      p99Ms: round3(edge.latencyMs.quantile(0.99)),
      rps: round3(edge.ratePerSecond(nowMs)),
    });
  }
  edges.sort(
    (a, b) =>
      a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination) || a.port - b.port ||
      a.protocol.localeCompare(b.protocol) || Number(a.tls) - Number(b.tls),
  );
  return { nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)), edges };
}

function round3(n: number): number {
  return Number.isFinite(n) ? Math.round(n * 1000) / 1000 : 0;
}
