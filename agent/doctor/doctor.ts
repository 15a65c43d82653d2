// `flowscope doctor`: can the agent run on this host? A pass/fail table, and
// exit code 0 only when every required check passes, including loading the
// eBPF object for real.
import { BpfLoader } from '../../native/loader.js';
import { bpftraceUnavailable } from '../capture/bpftrace-engine.js';
import {
  checkBtf, checkBuilt, checkKernel, checkLibssl, checkLockdown, checkPrivileges, checkTracefs, type CheckResult,
} from './host-checks.js';

export async function runDoctorChecks(): Promise<CheckResult[]> {
  const results = [checkKernel(), checkBtf(), checkPrivileges(), checkTracefs(), checkLockdown(), checkBuilt(), checkLibssl()];
  const prerequisitesOk = results.every((r) => r.ok || r.optional);
  if (!prerequisitesOk) {
    results.push({ name: 'load eBPF programs', ok: false, detail: 'skipped: fix the failures above first' });
    return withEngine(results);
  }
  try {
    const loader = BpfLoader.open({ agentTgid: process.pid, maxCaptureBytes: 16384 });
    try {
      loader.attachSyscalls();
      results.push({ name: 'load eBPF programs', ok: true, detail: 'loaded, verified and attached (ring buffer works)' });
    } finally {
      await loader.close();
    }
  } catch (err) {
    results.push({ name: 'load eBPF programs', ok: false, detail: (err as Error).message });
  }
  return withEngine(results);
}

/**
 * Adds the engine the agent will use: libbpf when the object loads, else the
 * bpftrace fallback (then the load failure is no longer fatal).
 */
function withEngine(results: CheckResult[]): CheckResult[] {
  const load = results.find((r) => r.name === 'load eBPF programs')!;
  if (load.ok) {
    results.push({ name: 'capture engine', ok: true, detail: 'libbpf' });
    return results;
  }
  // bpftrace needs the same kernel, BTF, privileges and lockdown mode; only the native build is its own.
  const blocking = results.find((r) => !r.ok && !r.optional && ['kernel version', 'kernel BTF', 'capabilities', 'lockdown'].includes(r.name));
  const missing = blocking ? `${blocking.name} fails` : bpftraceUnavailable();
  if (missing) {
    results.push({ name: 'capture engine', ok: false, detail: `none: libbpf cannot load and the bpftrace fallback cannot run (${missing})` });
    return results;
  }
  load.optional = true;
  results.push({ name: 'capture engine', ok: true, detail: 'bpftrace (fallback: connections and HTTP/1 message heads only; no TLS, no HTTP/2)' });
  return results;
}

/** The engine named by the checks ('libbpf', 'bpftrace'), if any. */
export function engineOf(results: CheckResult[]): string | undefined {
  const engine = results.find((r) => r.name === 'capture engine');
  return engine?.ok ? engine.detail.split(' ')[0] : undefined;
}

export function formatChecks(results: CheckResult[], color: boolean): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const paint = (code: number, s: string): string => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const lines = results.map((r) => {
    const verdict = r.ok ? paint(32, 'PASS') : r.optional ? paint(33, 'WARN') : paint(31, 'FAIL');
    return `${verdict}  ${r.name.padEnd(width)}  ${r.detail}`;
  });
  const ok = results.every((r) => r.ok || r.optional);
  lines.push('', ok ? `flowscope can run on this host (engine: ${engineOf(results)}).` : 'flowscope cannot run on this host: fix the FAIL lines above.');
  return lines.join('\n');
}
