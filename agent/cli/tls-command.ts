// `flowscope tls`: per process, which TLS implementation flowscope found and
// whether plaintext capture is live, and why not. Asks the running agent
// (the `tls` field of /v1/status); with no agent reachable, or with --local,
// scans this host itself (same discovery, nothing attached: capture is "no").
import type { ParseArgsConfig } from 'node:util';
import { tlsStatusRow, type TlsProcessStatus } from '../capture/kernel-engine.js';
import { TlsDiscovery } from '../capture/tls-discovery.js';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import { requestJson, serverTarget } from '../server/api-client.js';
import { connectionHelp, connectionOptions } from './flows-command.js';
import { createStyle, type Style } from './render/style.js';

export const tlsOptions: NonNullable<ParseArgsConfig['options']> = {
  output: { type: 'string', short: 'o', default: 'text' },
  local: { type: 'boolean', default: false },
  ...connectionOptions,
};

export const tlsUsage = `flowscope tls [-o text|json] [--local]

Lists, per process, the TLS implementation flowscope found (openssl-dynamic,
openssl-static, boringssl, go, node), its version when the binary says, whether
plaintext capture is active, and why not when it is not (stripped without a readable Go function table, unsupported
Go version, cap reached, attach failed: ERRNO). Asks the running agent; when
none answers, scans this host itself and says so (capture is then inactive).

  -o FORMAT   text (default) or json
  --local     scan this host even if an agent runs (reading other users'
              processes needs root)

${connectionHelp}

Examples:
  flowscope tls
  sudo flowscope tls --local -o json`;

export interface TlsReport {
  source: 'agent' | 'local';
  /** Why the report comes from a local scan. */
  note?: string;
  processes: TlsProcessStatus[];
}

export async function runTls(values: Record<string, unknown>): Promise<number> {
  const format = String(values.output);
  if (format !== 'text' && format !== 'json') {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, `-o must be text or json, got '${format}'`, 'pass -o json');
  }
  const report = values.local === true ? localReport('--local') : await agentReport(values);
  if (format === 'json') process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(renderTls(report, createStyle(process.stdout, values['no-color'] === true)));
  return 0;
}

async function agentReport(values: Record<string, unknown>): Promise<TlsReport> {
  const target = serverTarget(values);
  let status: Record<string, unknown>;
  try {
    status = await requestJson<Record<string, unknown>>(target, '/v1/status', 'reading the agent status');
  } catch (err) {
    if (err instanceof FlowscopeError && /cannot reach the agent/.test(err.message)) {
      return localReport(`no agent at ${target.base.origin}`);
    }
    throw err;
  }
  if (!Array.isArray(status.tls)) return localReport(`the agent at ${target.base.origin} does not report TLS status`);
  return { source: 'agent', processes: status.tls.map(parseRow).filter((r): r is TlsProcessStatus => r !== undefined) };
}

/** This host scanned by this process: found, never attached. */
export function localReport(why: string): TlsReport {
  const discovery = new TlsDiscovery();
  discovery.scan();
  const processes: TlsProcessStatus[] = [];
  for (const proc of discovery.processes()) {
    for (const fileId of proc.files) {
      const file = discovery.file(fileId);
      if (!file) continue;
      processes.push(tlsStatusRow(proc, file, false, file.unprobeable ?? 'no agent running'));
    }
  }
  processes.sort((a, b) => a.pid - b.pid || a.path.localeCompare(b.path));
  return { source: 'local', note: `${why}: scanned this host itself`, processes };
}

const LIBRARIES = new Set(['openssl-dynamic', 'openssl-static', 'boringssl', 'go', 'node']);

/** One row of the agent's answer, read defensively (it comes from the network). */
function parseRow(value: unknown): TlsProcessStatus | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.pid !== 'number' || typeof v.library !== 'string' || !LIBRARIES.has(v.library)) return undefined;
  const text = (x: unknown): string => (typeof x === 'string' ? x : '');
  return {
    pid: v.pid,
    comm: text(v.comm),
    exe: text(v.exe),
    library: v.library as TlsProcessStatus['library'],
    path: text(v.path),
    ...(typeof v.version === 'string' ? { version: v.version } : {}),
    active: v.active === true,
    ...(typeof v.reason === 'string' ? { reason: v.reason } : {}),
  };
}

export function renderTls(report: TlsReport, style: Style): string {
  const lines: string[] = [];
  if (report.note) lines.push(style.yellow(report.note));
  if (report.processes.length === 0) {
    lines.push('no process uses a TLS implementation flowscope knows');
    return `${lines.join('\n')}\n`;
  }
  const header = ['PID', 'COMM', 'LIBRARY', 'VERSION', 'CAPTURE', 'PATH / REASON'];
  const rows = report.processes.map((p) => [
    String(p.pid),
    p.comm,
    p.library,
    p.version ?? '-',
    p.active ? 'yes' : 'no',
    p.active ? p.path : `${p.reason ?? 'unknown'} (${p.path})`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  lines.push(line(header));
  for (const [i, r] of rows.entries()) {
    const text = line(r);
    lines.push(report.processes[i]!.active ? text : style.yellow(text));
  }
  return `${lines.join('\n')}\n`;
}
