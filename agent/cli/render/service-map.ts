// The service map from /v1/map as text, JSON, Graphviz dot or Mermaid.
import { formatDurationNs } from '../../filter/units.js';
import { alignRows, type Style } from './style.js';

export interface MapNode {
  id: string;
  workload?: string;
  namespace?: string;
  kind?: string;
}

export interface MapEdge {
  source: string;
  destination: string;
  port?: number;
  protocol?: string;
  tls?: boolean;
  requests?: number;
  errors?: number;
  p50Ms?: number;
  p99Ms?: number;
  rps?: number;
}

export interface ServiceMap {
  nodes: MapNode[];
  edges: MapEdge[];
}

export type MapFormat = 'text' | 'json' | 'dot' | 'mermaid';

/** Accepts what the agent sent only when it has the documented shape. */
export function asServiceMap(value: unknown): ServiceMap | undefined {
  const v = value as Partial<ServiceMap> | null;
  if (!v || !Array.isArray(v.nodes) || !Array.isArray(v.edges)) return undefined;
  return { nodes: v.nodes.filter((n) => n && typeof n.id === 'string'), edges: v.edges.filter((e) => e && typeof e.source === 'string' && typeof e.destination === 'string') };
}

function labeller(map: ServiceMap): (id: string) => string {
  const byId = new Map(map.nodes.map((n) => [n.id, n]));
  return (id) => {
    const n = byId.get(id);
    if (!n) return id;
    const name = n.workload || n.id;
    return n.namespace ? `${n.namespace}/${name}` : name;
  };
}

function ms(value: number | undefined): string {
  return value === undefined ? '-' : formatDurationNs(value * 1e6);
}

function errorRate(e: MapEdge): string {
  if (!e.requests) return '-';
  return `${(((e.errors ?? 0) / e.requests) * 100).toFixed(1)}%`;
}

export function renderMapText(map: ServiceMap, style: Style): string {
  if (map.edges.length === 0) return 'no edges seen yet\n';
  const name = labeller(map);
  const edges = [...map.edges].sort((a, b) => (b.rps ?? 0) - (a.rps ?? 0) || name(a.source).localeCompare(name(b.source)));
  const rows = [['SOURCE', 'DESTINATION', 'PORT', 'PROTOCOL', 'TLS', 'RPS', 'REQUESTS', 'ERRORS', 'P50', 'P99']];
  for (const e of edges) {
    rows.push([
      name(e.source), name(e.destination), String(e.port ?? '-'), e.protocol ?? '-', e.tls === undefined ? '-' : e.tls ? 'yes' : 'NO',
      (e.rps ?? 0).toFixed(1), String(e.requests ?? 0), errorRate(e), ms(e.p50Ms), ms(e.p99Ms),
    ]);
  }
  const lines = alignRows(rows);
  return `${[style.bold(lines[0]!), ...lines.slice(1)].join('\n')}\n${map.nodes.length} nodes, ${map.edges.length} edges\n`;
}

function quote(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function edgeLabel(e: MapEdge): string {
  const parts = [`${e.protocol ?? ''}${e.port ? ` :${e.port}` : ''}`.trim(), `${(e.rps ?? 0).toFixed(1)} rps`];
  if (e.errors) parts.push(`${errorRate(e)} err`);
  if (e.p99Ms !== undefined) parts.push(`p99 ${ms(e.p99Ms)}`);
  if (e.tls === false) parts.push('plaintext');
  return parts.filter((p) => p !== '').join(', ');
}

export function renderMapDot(map: ServiceMap): string {
  const name = labeller(map);
  const lines = ['digraph flowscope {', '  rankdir=LR;', '  node [shape=box, style=rounded];'];
  for (const n of map.nodes) lines.push(`  ${quote(n.id)} [label=${quote(name(n.id))}];`);
  for (const e of map.edges) {
    const style = e.tls === false ? ', style=dashed' : '';
    const colour = e.errors ? ', color=red' : '';
    lines.push(`  ${quote(e.source)} -> ${quote(e.destination)} [label=${quote(edgeLabel(e))}${style}${colour}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

export function renderMapMermaid(map: ServiceMap): string {
  const name = labeller(map);
  const ids = new Map<string, string>();
  const idOf = (id: string): string => {
    let short = ids.get(id);
    if (!short) ids.set(id, (short = `n${ids.size}`));
    return short;
  };
  // Mermaid labels cannot hold quotes; #quot; is its escape.
  const label = (text: string): string => `"${text.replace(/"/g, '#quot;')}"`;
  const lines = ['graph LR'];
  for (const n of map.nodes) lines.push(`  ${idOf(n.id)}[${label(name(n.id))}]`);
  for (const e of map.edges) {
    for (const end of [e.source, e.destination]) if (!ids.has(end)) lines.push(`  ${idOf(end)}[${label(name(end))}]`);
    const arrow = e.tls === false ? '-.->' : '-->';
    lines.push(`  ${idOf(e.source)} ${arrow}|${label(edgeLabel(e))}| ${idOf(e.destination)}`);
  }
  return `${lines.join('\n')}\n`;
}
