// Host checks shared by `flowscope doctor` and the agent's start-up: each says
// what it found and, when it fails, what to do.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { release } from 'node:os';
import { paths } from '../paths.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  /** A failed check that does not stop the agent from running. */
  optional?: boolean;
  detail: string;
}

const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

export function effectiveCapabilities(): bigint {
  const status = readFileSync('/proc/self/status', 'latin1');
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

function hasCap(caps: bigint, bit: number): boolean {
  return (caps & (1n << BigInt(bit))) !== 0n;
}

export function kernelVersion(): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release());
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

export function tracefsPath(): string | undefined {
  for (const p of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) {
    if (existsSync(`${p}/events/syscalls`)) return p;
  }
  return undefined;
}

export function checkKernel(): CheckResult {
  const [major, minor] = kernelVersion();
  const ok = major > 5 || (major === 5 && minor >= 8);
  return { name: 'kernel version', ok, detail: ok ? `${release()} (ring buffer needs ≥ 5.8)` : `${release()}: BPF ring buffers need Linux ≥ 5.8` };
}

export function checkBtf(): CheckResult {
  const ok = existsSync('/sys/kernel/btf/vmlinux');
  return { name: 'kernel BTF', ok, detail: ok ? '/sys/kernel/btf/vmlinux' : 'no /sys/kernel/btf/vmlinux: kernel built without CONFIG_DEBUG_INFO_BTF (CO-RE needs it)' };
}

export function checkPrivileges(): CheckResult {
  const caps = effectiveCapabilities();
  const bpf = hasCap(caps, CAP_BPF) || hasCap(caps, CAP_SYS_ADMIN);
  const perfmon = hasCap(caps, CAP_PERFMON) || hasCap(caps, CAP_SYS_ADMIN);
  const ok = bpf && perfmon;
  const missing = [!bpf && 'CAP_BPF', !perfmon && 'CAP_PERFMON'].filter(Boolean).join(', ');
  return { name: 'capabilities', ok, detail: ok ? 'CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) present' : `missing ${missing}: run as root (sudo) or grant them` };
}

/** Advisory: capture uses BTF raw tracepoints and uprobes, which attach without tracefs. */
export function checkTracefs(): CheckResult {
  const p = tracefsPath();
  return { name: 'tracefs', ok: p !== undefined, optional: true, detail: p ?? 'not mounted (capture does not need it; for bpftool/bpftrace: mount -t tracefs nodev /sys/kernel/tracing)' };
}

export function checkLockdown(): CheckResult {
  let mode = 'none';
  try {
    const m = /\[(\w+)\]/.exec(readFileSync('/sys/kernel/security/lockdown', 'latin1'));
    if (m) mode = m[1]!;
  } catch {
    // No securityfs or no lockdown LSM: nothing restricts BPF.
  }
  const ok = mode !== 'confidentiality';
  return { name: 'lockdown', ok, detail: ok ? `${mode} (BPF may read user memory)` : 'confidentiality mode forbids reading user memory from BPF: boot with lockdown=integrity or none' };
}

export function checkBuilt(): CheckResult {
  const missing = [paths.bpfObject, paths.nativeLibrary].filter((p) => !existsSync(p));
  return {
    name: 'native build',
    ok: missing.length === 0,
    detail: missing.length === 0 ? 'eBPF object and loader library built' : `missing ${missing.join(', ')}: run npm run build:native`,
  };
}

export function checkLibssl(): CheckResult {
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib'];
  const found: string[] = [];
  for (const dir of dirs) {
    try {
      for (const name of readdirSync(dir)) if (/^libssl\.so\.\d+$/.test(name)) found.push(`${dir}/${name}`);
    } catch {
      // Directory absent on this distribution.
    }
  }
  return {
    name: 'libssl',
    ok: found.length > 0,
    optional: true,
    detail: found.length > 0 ? [...new Set(found.map((p) => realpathSync(p)))].join(', ') : 'no system libssl: OpenSSL TLS plaintext is captured only from libraries found in processes',
  };
}
