// The systemd unit and the install script: install.sh stages a real install into a temp
// root, systemd-analyze verifies the unit there, and the unit's capability set and file
// system hardening are reproduced around `flowscope doctor`, which loads the eBPF programs
// for real (systemd is not PID 1 here, so the unit itself cannot be started).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const unitPath = join(root, 'packaging/systemd/flowscope.service');
const unit = readFileSync(unitPath, 'utf8');
const work = mkdtempSync(join(tmpdir(), 'flowscope-systemd-'));
const stage = join(work, 'root');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `Key=value` settings of the [Service] section (last one wins, as in systemd). */
function serviceSettings(text: string): Map<string, string> {
  const section = /\[Service\]([\s\S]*?)(?:\n\[|$)/.exec(text)![1]!;
  const settings = new Map<string, string>();
  for (const line of section.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) settings.set(m[1]!, m[2]!);
  }
  return settings;
}

function verify(rootDir: string): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', `--root=${rootDir}`, '--man=no', 'flowscope.service'], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

beforeAll(() => {
  // What systemd-analyze needs from the host inside the root: the unit targets and /bin/kill (ExecReload).
  mkdirSync(join(stage, 'usr/lib/systemd'), { recursive: true });
  cpSync('/usr/lib/systemd/system', join(stage, 'usr/lib/systemd/system'), { recursive: true });
  mkdirSync(join(stage, 'bin'), { recursive: true });
  cpSync('/bin/kill', join(stage, 'bin/kill'));
  execFileSync('bash', [join(root, 'packaging/install.sh')], { cwd: root, env: { ...process.env, DESTDIR: stage }, stdio: 'pipe' });
}, 120_000);

describe('packaging/install.sh', () => {
  it('installs the agent, the command, the unit, the config and the state directory', () => {
    for (const path of ['opt/flowscope/bin/flowscope', 'opt/flowscope/dist/agent/cli/main.js', 'opt/flowscope/bpf/build/flowscope.bpf.o',
      'opt/flowscope/native/build/libflowscope.so', 'opt/flowscope/agent/schema/flowscope.proto', 'etc/systemd/system/flowscope.service',
      'etc/flowscope/config.yaml', 'var/lib/flowscope']) {
      expect(existsSync(join(stage, path)), path).toBe(true);
    }
    expect(existsSync(join(stage, 'opt/flowscope/node_modules/vitest')), 'dev dependencies are pruned').toBe(false);
    expect(readFileSync(join(stage, 'etc/flowscope/config.yaml'), 'utf8')).toBe(readFileSync(join(root, 'packaging/flowscope.example.yaml'), 'utf8'));
  });

  it('installs a tree that runs: the installed command checks the installed config', () => {
    const out = execFileSync(join(stage, 'opt/flowscope/bin/flowscope'), ['config', 'check', join(stage, 'etc/flowscope/config.yaml')], { encoding: 'utf8' });
    expect(out).toBe(`${join(stage, 'etc/flowscope/config.yaml')}: OK\n`);
  });

  it('keeps an existing config on reinstall', () => {
    const config = join(stage, 'etc/flowscope/config.yaml');
    writeFileSync(config, 'stream:\n  history: 5\n');
    execFileSync('bash', [join(root, 'packaging/install.sh')], { cwd: root, env: { ...process.env, DESTDIR: stage }, stdio: 'pipe' });
    expect(readFileSync(config, 'utf8')).toBe('stream:\n  history: 5\n');
  }, 120_000);
});

describe('packaging/systemd/flowscope.service', () => {
  it('passes systemd-analyze verify without a single warning', () => {
    expect(verify(stage)).toEqual({ status: 0, output: '' });
  });

  it('would be caught by verify with a bad setting or a missing ExecStart binary', () => {
    const broken = join(work, 'broken');
    cpSync(join(stage, 'usr'), join(broken, 'usr'), { recursive: true });
    cpSync(join(stage, 'bin'), join(broken, 'bin'), { recursive: true });
    mkdirSync(join(broken, 'opt/flowscope/bin'), { recursive: true });
    writeFileSync(join(broken, 'opt/flowscope/bin/flowscope'), '#!/bin/sh\n', { mode: 0o755 });
    const unitFile = join(broken, 'etc/systemd/system/flowscope.service');
    mkdirSync(join(broken, 'etc/systemd/system'), { recursive: true });
    writeFileSync(unitFile, unit);
    expect(verify(broken)).toEqual({ status: 0, output: '' });
    writeFileSync(unitFile, unit.replace('ProtectHome=read-only', 'ProtectHome=maybe'));
    expect(verify(broken).output).toMatch(/Failed to parse protect home value/);
    writeFileSync(unitFile, unit);
    rmSync(join(broken, 'opt/flowscope/bin/flowscope'));
    expect(verify(broken)).toMatchObject({ status: 1, output: expect.stringMatching(/\/opt\/flowscope\/bin\/flowscope is not executable/) });
  });

  it('restarts on failure, keeps state writable and everything else read-only', () => {
    const s = serviceSettings(unit);
    expect(s.get('Restart')).toBe('on-failure');
    expect(s.get('ExecStart')).toBe('/opt/flowscope/bin/flowscope agent --config /etc/flowscope/config.yaml');
    expect(s.get('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(s.get('ProtectSystem')).toBe('strict');
    expect(s.get('ReadWritePaths')).toBe('/var/lib/flowscope /var/log/flowscope');
    expect(s.get('StateDirectory')).toBe('flowscope');
    expect(s.get('LimitMEMLOCK')).toBe('infinity');
    expect(s.get('NoNewPrivileges')).toBe('yes');
    expect(s.get('CapabilityBoundingSet')!.split(' ')).toEqual(['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_PTRACE', 'CAP_SYS_RESOURCE']);
    expect(s.has('MemoryDenyWriteExecute')).toBe(false);
  });

  it('rates as well hardened by systemd-analyze security (exposure at most 5.0)', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', `--root=${stage}`, '--no-pager', 'flowscope.service'], { encoding: 'utf8' });
    const exposure = Number(/Overall exposure level for flowscope\.service: ([\d.]+)/.exec(r.stdout)?.[1]);
    expect(exposure).toBeLessThanOrEqual(5.0);
  });
});

/**
 * Runs `flowscope doctor` the way the unit confines the agent: only the unit's capabilities in
 * the bounding set, no_new_privs, and in a private mount namespace every mount read-only
 * (ProtectSystem=strict, ProtectKernelTunables, ProtectControlGroups, ProtectHome=read-only)
 * with /proc/sys read-only, a private /tmp and a writable state directory.
 */
function doctorConfined(capabilities: string[]): { status: number | null; stdout: string; stderr: string } {
  const state = join(work, 'state');
  mkdirSync(state, { recursive: true });
  const bounding = ['-all', ...capabilities.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
  const script = `set -eu
mount --make-rprivate /
findmnt -rno TARGET | grep -v -E '^/(proc|dev)(/|$)' | while read -r target; do
  mount -o remount,bind,ro "$(printf '%b' "$target")" 2>/dev/null || true
done
mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
mount --bind "$STATE" /var/lib && mount -o remount,bind,rw /var/lib
# PrivateTmp hides /tmp; a checkout under /tmp (a CI clone) is bound back in, read-only.
exec 3<.
mount -t tmpfs -o mode=1777 tmpfs /tmp
case "$PWD" in /tmp/*)
  mkdir -p "$PWD" && mount --no-canonicalize --bind /proc/self/fd/3 "$PWD" && mount -o remount,bind,ro "$PWD" && cd "$PWD";;
esac
exec 3<&-
for path in /etc /usr /sys/fs/cgroup /proc/sys/kernel; do
  if touch "$path/.flowscope-probe" 2>/dev/null; then rm -f "$path/.flowscope-probe"; echo "$path is still writable" >&2; exit 97; fi
done
touch /var/lib/.flowscope-probe /tmp/.flowscope-probe
exec setpriv --bounding-set ${bounding} --inh-caps -all --no-new-privs -- "$NODE" bin/flowscope.js doctor --no-color`;
  const r = spawnSync('unshare', ['--mount', 'bash', '-c', script], { cwd: root, encoding: 'utf8', env: { ...process.env, STATE: state, NODE: process.execPath }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the unit’s confinement on this kernel', () => {
  const capabilities = serviceSettings(unit).get('CapabilityBoundingSet')!.split(' ');

  it('still loads, verifies and attaches the eBPF programs', () => {
    const r = doctorConfined(capabilities);
    expect(r.stderr).not.toMatch(/still writable/);
    expect(r.stdout, r.stderr).toMatch(/PASS\s+load eBPF programs\s+loaded, verified and attached/);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('cannot load them without CAP_BPF, so the check above depends on the capability set', () => {
    const r = doctorConfined(capabilities.filter((c) => c !== 'CAP_BPF'));
    expect(r.status).not.toBe(0);
    expect(r.stdout).not.toMatch(/PASS\s+load eBPF programs/);
  });
});
