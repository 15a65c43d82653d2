// The resolver on real processes, and on a /proc-shaped directory tree where a
// test can play out what is hard to force on a live host: a pid reused by
// another process, a container with its own passwd file, a truncated comm.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { IdentityResolver, processName } from '../../../agent/identity/identity-resolver.js';
import type { Endpoint } from '../../../agent/schema/flow.js';
import { ProcReader } from '../../../agent/identity/proc-reader.js';
import { waitFor } from '../../helpers/wait.mjs';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function start(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: 'ignore' });
  children.push(child);
  return child;
}

const scratch = mkdtempSync(join(tmpdir(), 'flowscope-identity-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const CONTAINER = 'c0ffee00'.repeat(8);

interface FakeProcess {
  comm: string;
  startTime: number;
  exe: string;
  uid: number;
  cgroup: string;
  passwd?: string;
}

/** Writes the files ProcReader reads for one pid under `root`. */
function writeProcess(root: string, pid: number, p: FakeProcess): void {
  const dir = join(root, String(pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'stat'), `${pid} (${p.comm}) S 1 ${pid} ${pid} 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 ${p.startTime} 1000 10 0\n`);
  writeFileSync(join(dir, 'status'), `Name:\t${p.comm}\nUid:\t${p.uid}\t${p.uid}\t${p.uid}\t${p.uid}\n`);
  writeFileSync(join(dir, 'cgroup'), p.cgroup);
  symlinkSync(p.exe, join(dir, 'exe'));
  if (p.passwd !== undefined) {
    mkdirSync(join(dir, 'root', 'etc'), { recursive: true });
    writeFileSync(join(dir, 'root', 'etc', 'passwd'), p.passwd);
  }
}

function fakeProcRoot(name: string): { root: string; passwd: string } {
  const root = join(scratch, name);
  mkdirSync(root, { recursive: true });
  const passwd = join(scratch, `${name}.passwd`);
  writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\nhostuser:x:1000:1000::/home/hostuser:/bin/bash\n');
  return { root, passwd };
}

function end(pid: number | undefined, process?: string, ip = '127.0.0.1', port = 40000): Endpoint {
  const e: Endpoint = { ip, port };
  if (pid !== undefined) e.pid = pid;
  if (process !== undefined) e.process = process;
  return e;
}

describe('IdentityResolver on real processes', () => {
  it('names a local process by comm, exe and user, and caches it', () => {
    const resolver = new IdentityResolver({ kubernetes: false });
    const child = start('/usr/bin/sleep', ['30']);
    const e = end(child.pid!, 'sleep');
    resolver.enricher(e, true);
    expect(e).toMatchObject({ pid: child.pid, process: 'sleep', exe: '/usr/bin/sleep', user: 'root', workload: 'sleep', workloadKind: 'Process' });
    expect(e.containerId).toBeUndefined();
    const again = end(child.pid!, 'sleep');
    resolver.enricher(again, false);
    expect(again).toEqual(e);
    expect(resolver.counters).toMatchObject({ cacheMisses: 1, cacheHits: 1 });
  });

  it('keeps the identity read at connection open for a process that exited before its flow', async () => {
    const resolver = new IdentityResolver({ kubernetes: false });
    const child = start('/usr/bin/sleep', ['30']);
    resolver.notePid(child.pid!, { comm: 'sleep' });
    child.kill('SIGKILL');
    await waitFor('the process to be gone', () => new ProcReader().startTime(child.pid!) === undefined);
    const e = end(child.pid!, 'sleep');
    resolver.enricher(e, true);
    expect(e).toMatchObject({ exe: '/usr/bin/sleep', user: 'root', workload: 'sleep', workloadKind: 'Process' });
  });

  it('falls back to the flow comm for a process gone before it was ever read', async () => {
    const resolver = new IdentityResolver({ kubernetes: false });
    const child = start('/usr/bin/true', []);
    await new Promise((resolve) => child.once('exit', resolve));
    await waitFor('the process to be reaped', () => new ProcReader().startTime(child.pid!) === undefined);
    const e = end(child.pid!, 'true');
    resolver.enricher(e, true);
    expect(e).toEqual({ ip: '127.0.0.1', port: 40000, pid: child.pid, process: 'true', workload: 'true', workloadKind: 'Process' });
    expect(resolver.counters.processGone).toBe(1);
  });

  it('bounds the process cache and counts evictions', () => {
    const resolver = new IdentityResolver({ kubernetes: false, processCacheSize: 2 });
    const pids = [0, 1, 2].map(() => start('/usr/bin/sleep', ['30']).pid!);
    for (const pid of pids) resolver.enricher(end(pid, 'sleep'), true);
    expect(resolver.processesCached).toBe(2);
    expect(resolver.counters.cacheEvictions).toBe(1);
    // The evicted (least recently used) one is read again.
    resolver.enricher(end(pids[0], 'sleep'), true);
    expect(resolver.counters).toMatchObject({ cacheMisses: 4, cacheEvictions: 2 });
  });

  it('names local ends by naming rules on comm, exe and port', () => {
    const resolver = new IdentityResolver({
      kubernetes: false,
      namingRules: [
        { match: { comm: 'sleep', port: 8080 }, workload: 'sleeper-http' },
        { match: { exe: '/usr/bin/sl*' }, workload: 'sleeper', kind: 'Container' },
      ],
    });
    const child = start('/usr/bin/sleep', ['30']);
    const onPort = end(child.pid!, 'sleep', '127.0.0.1', 8080);
    const elsewhere = end(child.pid!, 'sleep', '127.0.0.1', 9090);
    resolver.enricher(onPort, false);
    resolver.enricher(elsewhere, false);
    expect([onPort.workload, onPort.workloadKind]).toEqual(['sleeper-http', 'Process']);
    expect([elsewhere.workload, elsewhere.workloadKind]).toEqual(['sleeper', 'Container']);
  });

  it('does nothing when disabled', () => {
    const resolver = new IdentityResolver({ enabled: false });
    const child = start('/usr/bin/sleep', ['30']);
    const e = end(child.pid!, 'sleep');
    resolver.enricher(e, true);
    expect(e).toEqual(end(child.pid!, 'sleep'));
  });
});

describe('IdentityResolver and pid reuse', () => {
  it('gives a reused pid the new process identity, never the old one', () => {
    const { root, passwd } = fakeProcRoot('reuse');
    writeProcess(root, 4242, {
      comm: 'api', startTime: 1000, exe: '/srv/api/bin/api', uid: 1000,
      cgroup: `0::/system.slice/docker-${CONTAINER}.scope\n`, passwd: 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n',
    });
    const resolver = new IdentityResolver({ kubernetes: false, procRoot: root, passwdPath: passwd, verifyAfterMs: 60_000 });
    const first = end(4242, 'api');
    resolver.enricher(first, true);
    // The container's own passwd names uid 1000, not the host's.
    expect(first).toMatchObject({ exe: '/srv/api/bin/api', user: 'app', containerId: CONTAINER, workload: CONTAINER.slice(0, 12), workloadKind: 'Container' });

    // The process exits and pid 4242 is handed to an unrelated host process.
    writeProcess(root, 4242, { comm: 'backup', startTime: 5000, exe: '/usr/bin/backup', uid: 1000, cgroup: '0::/system.slice/backup.service\n' });
    const second = end(4242, 'backup');
    resolver.enricher(second, true);
    expect(second).toEqual({ ip: '127.0.0.1', port: 40000, pid: 4242, process: 'backup', exe: '/usr/bin/backup', user: 'hostuser', workload: 'backup', workloadKind: 'Process' });
    expect(resolver.counters.pidReuses).toBe(1);
  });

  it('notices reuse by start time even when the new process has the same name', () => {
    const { root, passwd } = fakeProcRoot('reuse-same-name');
    writeProcess(root, 77, { comm: 'worker', startTime: 10, exe: '/opt/a/worker', uid: 0, cgroup: `0::/machine.slice/libpod-${CONTAINER}.scope\n` });
    const resolver = new IdentityResolver({ kubernetes: false, procRoot: root, passwdPath: passwd, verifyAfterMs: 0 });
    const first = end(77, 'worker');
    resolver.enricher(first, true);
    expect(first.containerId).toBe(CONTAINER);
    writeProcess(root, 77, { comm: 'worker', startTime: 20, exe: '/opt/b/worker', uid: 0, cgroup: '0::/user.slice\n' });
    const second = end(77, 'worker');
    resolver.enricher(second, true);
    expect(second.exe).toBe('/opt/b/worker');
    expect(second.containerId).toBeUndefined();
    expect(resolver.counters.pidReuses).toBe(1);
  });

  it('changes its generation when an answer may change (a process cached or replaced, new rules), not on a cache hit', () => {
    const { root, passwd } = fakeProcRoot('generation');
    writeProcess(root, 90, { comm: 'api', startTime: 10, exe: '/srv/api', uid: 0, cgroup: '0::/\n' });
    const resolver = new IdentityResolver({ kubernetes: false, procRoot: root, passwdPath: passwd, verifyAfterMs: 0 });
    // All within one millisecond, as on a fast host: verifyAfterMs 0 must still re-check.
    const clock = vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
    onTestFinished(() => clock.mockRestore());
    const seen = [resolver.generation()];
    resolver.enricher(end(90, 'api'), true); // cached
    seen.push(resolver.generation());
    resolver.enricher(end(90, 'api'), true); // verified, same process
    seen.push(resolver.generation());
    writeProcess(root, 90, { comm: 'api', startTime: 20, exe: '/srv/api2', uid: 0, cgroup: '0::/\n' });
    resolver.enricher(end(90, 'api'), true); // pid reused: replaced
    seen.push(resolver.generation());
    resolver.setNamingRules([{ match: { comm: 'api' }, workload: 'payments' }]);
    seen.push(resolver.generation());
    expect(seen[1]).toBeGreaterThan(seen[0]!);
    expect(seen[2]).toBe(seen[1]);
    expect(seen[3]).toBeGreaterThan(seen[2]!);
    expect(seen[4]).toBeGreaterThan(seen[3]!);
  });

  it('re-checks a fresh entry when a connection shows an unseen thread name, and keeps it when the start time agrees', () => {
    const { root, passwd } = fakeProcRoot('threads');
    writeProcess(root, 88, { comm: 'java', startTime: 10, exe: '/usr/lib/jvm/bin/java', uid: 0, cgroup: '0::/\n' });
    const resolver = new IdentityResolver({ kubernetes: false, procRoot: root, passwdPath: passwd, verifyAfterMs: 60_000 });
    resolver.enricher(end(88, 'java'), true);
    const thread = end(88, 'http-nio-8080-e');
    resolver.enricher(thread, true);
    expect(thread).toMatchObject({ process: 'http-nio-8080-e', exe: '/usr/lib/jvm/bin/java', workload: 'java' });
    expect(resolver.counters).toMatchObject({ pidReuses: 0, cacheMisses: 1, cacheHits: 1 });
    // A name never seen for this pid, while the pid now names another process.
    writeProcess(root, 88, { comm: 'sshd', startTime: 99, exe: '/usr/sbin/sshd', uid: 0, cgroup: '0::/\n' });
    const other = end(88, 'sshd');
    resolver.enricher(other, true);
    expect(other).toMatchObject({ exe: '/usr/sbin/sshd', workload: 'sshd' });
    expect(resolver.counters.pidReuses).toBe(1);
  });

  it('names a process whose comm the kernel truncated by its executable', () => {
    expect(processName('verylongprocess', '/usr/local/bin/verylongprocessname')).toBe('verylongprocessname');
    expect(processName('short', '/usr/bin/python3')).toBe('short');
    expect(processName('verylongprocess', '/usr/bin/python3')).toBe('verylongprocess');
  });
});

describe('IdentityResolver for ends without a process', () => {
  it('leaves unknown remote ends unnamed', () => {
    const resolver = new IdentityResolver({ kubernetes: false });
    const e = end(undefined, undefined, '198.18.0.9', 443);
    resolver.enricher(e, false);
    expect(e).toEqual({ ip: '198.18.0.9', port: 443 });
  });

  it('names remote ends by address block, and follows rule reloads', () => {
    const resolver = new IdentityResolver({ kubernetes: false, namingRules: [{ match: { cidr: '198.18.0.0/24' }, workload: 'partner-api' }] });
    const inside = end(undefined, undefined, '198.18.0.9', 443);
    const outside = end(undefined, undefined, '198.18.1.9', 443);
    resolver.enricher(inside, false);
    resolver.enricher(outside, false);
    expect([inside.workload, inside.workloadKind]).toEqual(['partner-api', 'External']);
    expect(outside.workload).toBeUndefined();
    resolver.setNamingRules([{ match: { cidr: '198.18.0.0/23' }, workload: 'partner-wide' }]);
    const again = end(undefined, undefined, '198.18.1.9', 443);
    resolver.enricher(again, false);
    expect(again.workload).toBe('partner-wide');
    expect(() => resolver.setNamingRules([{ match: { cidr: 'nonsense' }, workload: 'x' }])).toThrow(/rule 1/);
  });

  it('bounds the remote cache and counts evictions', () => {
    const resolver = new IdentityResolver({ kubernetes: false, remoteCacheSize: 4, namingRules: [{ match: { cidr: '198.18.0.0/16' }, workload: 'lab' }] });
    for (let i = 0; i < 10; i++) resolver.enricher(end(undefined, undefined, `198.18.0.${i}`, 80), false);
    expect(resolver.counters.remoteCacheEvictions).toBe(6);
  });
});
