// `flowscope doctor`: can the agent run on this host? A pass/fail table, and
// exit code 0 only when every required check passes, including loading the
// eBPF object for real.
import { BpfLoader } from '../../native/loader.js';
import {
  checkBtf, checkBuilt, checkKernel, checkLibssl, checkLockdown, checkPrivileges, checkTracefs, type CheckResult,
} from './host-checks.js';

export async function runDoctorChecks(): Promise<CheckResult[]> {
  const results = [checkKernel(), checkBtf(), checkPrivileges(), checkTracefs(), checkLockdown(), checkBuilt(), checkLibssl()];
  const prerequisitesOk = results.every((r) => r.ok || r.optional);
  if (!prerequisitesOk) {
    results.push({ name: 'load eBPF programs', ok: false, detail: 'skipped: fix the failures above first' });
    return results;
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
  return results;
}

export function formatChecks(results: CheckResult[], color: boolean): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const paint = (code: number, s: string): string => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const lines = results.map((r) => {
    const verdict = r.ok ? paint(32, 'PASS') : r.optional ? paint(33, 'WARN') : paint(31, 'FAIL');
    return `${verdict}  ${r.name.padEnd(width)}  ${r.detail}`;
  });
  const ok = results.every((r) => r.ok || r.optional);
  lines.push('', ok ? 'flowscope can run on this host (engine: libbpf).' : 'flowscope cannot run on this host: fix the FAIL lines above.');
  return lines.join('\n');
}
