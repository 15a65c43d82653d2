// /v1/status for a person. Fields are read defensively: the document comes
// from the network and may be from another agent version.
import type { Style } from './style.js';

type Counts = Record<string, unknown>;

function num(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : 0;
}

function counts(value: unknown): [string, number][] {
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value as Counts).filter(([, v]) => typeof v === 'number' || typeof v === 'string').map(([k, v]) => [k, num(v)]);
}

function sum(value: unknown): number {
  return counts(value).reduce((total, [, n]) => total + n, 0);
}

function list(entries: [string, number][], style: Style, warnNonZero: boolean): string {
  const shown = entries.filter(([, n]) => n !== 0);
  if (shown.length === 0) return style.green('none');
  return shown.map(([k, n]) => `${k} ${warnNonZero ? style.yellow(n.toLocaleString('en-US')) : n.toLocaleString('en-US')}`).join(', ');
}

export function renderStatus(status: Counts, origin: string, style: Style): string {
  const lines: [string, string][] = [];
  lines.push(['agent', `${origin} (engine ${String(status.engine ?? 'unknown')})`]);
  const events = status.events as Counts | undefined;
  lines.push(['events', `${sum(events).toLocaleString('en-US')} (${list(counts(events), style, false)}), ${num(status.payloadBytes).toLocaleString('en-US')} payload bytes`]);
  const flows = counts(status.flows);
  lines.push(['flows', `${sum(status.flows).toLocaleString('en-US')} (${flows.map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`).join(', ') || 'none'})`]);
  lines.push(['connections', `${num(status.connectionsTracked).toLocaleString('en-US')} tracked`]);
  lines.push(['kernel losses', list(counts(status.kernelLosses), style, true)]);
  const conntrack = status.conntrack as Counts | undefined;
  lines.push(['stream gaps', list(counts(conntrack).filter(([k]) => /^(gaps|gapBytes|holdOverflows|evicted|uncapturedBytes)$/.test(k)), style, true)]);
  lines.push(['decode errors', list(counts(status.decodeErrors), style, true)]);
  lines.push(['malformed', list(counts(status.malformedRecords), style, true)]);
  const unpaired = num(status.unpairedResponses);
  lines.push(['unpaired', unpaired ? style.yellow(String(unpaired)) : style.green('none')]);
  lines.push(['output dropped', num(status.outputDropped) ? style.yellow(String(num(status.outputDropped))) : style.green('none')]);
  const tls = Array.isArray(status.tlsLibraries) ? status.tlsLibraries.map((l: { path?: unknown; probes?: unknown; error?: unknown }) => {
    if (l?.error) return `${String(l.path)} ${style.red(`(failed: ${String(l.error)})`)}`;
    return `${String(l?.path)} (${num(l?.probes)} probes)`;
  }) : [];
  lines.push(['TLS probes', tls.length ? tls.join(', ') : style.yellow('none attached')]);
  const stream = status.stream as Counts | undefined;
  if (stream) {
    lines.push(['stream', `${num(stream.clients)} clients, ${sum(stream.published).toLocaleString('en-US')} records published, ${num(stream.dropped).toLocaleString('en-US')} dropped for slow clients, ${num(stream.unauthorized)} unauthorized requests`]);
  }
  const width = Math.max(...lines.map(([k]) => k.length));
  return `${lines.map(([k, v]) => `${style.bold(k.padEnd(width))}  ${v}`).join('\n')}\n`;
}
