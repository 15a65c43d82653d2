// /proc parsing, on text shaped like the kernel's and on real processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseStat, parseStatusUid, ProcReader } from '../../../agent/identity/proc-reader.js';
import { parsePasswd, UserNames } from '../../../agent/identity/user-names.js';
import { waitFor } from '../../helpers/wait.mjs';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function start(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return child;
}

// A stat line as the kernel writes it (fields 1-22 and beyond), comm included verbatim.
function statLine(comm: string, startTime: number): string {
  return `4242 (${comm}) S 1 4242 4242 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0 ${startTime} 8859648 256 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n`;
}

describe('parseStat', () => {
  it('reads comm and field 22 (start time)', () => {
    expect(parseStat(statLine('nginx', 123456))).toEqual({ comm: 'nginx', startTime: 123456 });
  });

  it('keeps a comm with spaces and parentheses whole, counting fields from the last parenthesis', () => {
    expect(parseStat(statLine('a) b (c', 99))).toEqual({ comm: 'a) b (c', startTime: 99 });
    expect(parseStat(statLine(') 1 2 3 (', 7))).toEqual({ comm: ') 1 2 3 (', startTime: 7 });
  });

  it('rejects truncated or garbled lines', () => {
    expect(parseStat('')).toBeUndefined();
    expect(parseStat('4242 (nginx S 1')).toBeUndefined();
    expect(parseStat('4242 (nginx) S 1 2 3')).toBeUndefined();
    expect(parseStat(statLine('x', 1).replace(' 1 8859648', ' -5 8859648'))).toBeUndefined();
  });
});

describe('parseStatusUid', () => {
  it('takes the effective uid', () => {
    expect(parseStatusUid('Name:\tsshd\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n')).toBe(0);
    expect(parseStatusUid('Name:\tx\n')).toBeUndefined();
  });
});

describe('ProcReader on real processes', () => {
  const reader = new ProcReader();

  it('reads comm, exe, effective uid and cgroup of a live process', () => {
    const child = start('/usr/bin/sleep', ['30']);
    const facts = reader.read(child.pid!);
    expect(facts).toMatchObject({ pid: child.pid, comm: 'sleep', exe: '/usr/bin/sleep', uid: process.getuid!() });
    expect(facts!.startTime).toBeGreaterThan(0);
    expect(facts!.cgroup.path.startsWith('/')).toBe(true);
    expect(reader.startTime(child.pid!)).toBe(facts!.startTime);
  });

  it('gives two processes started apart different start times', async () => {
    const first = start('/usr/bin/sleep', ['30']);
    const firstStart = reader.startTime(first.pid!)!;
    // Start times are in clock ticks (10 ms): wait for the tick to move on.
    await waitFor('a clock tick to pass', () => {
      const probe = start('/usr/bin/true', []);
      const t = reader.startTime(probe.pid!);
      return t !== undefined && t > firstStart;
    });
    const second = start('/usr/bin/sleep', ['30']);
    expect(reader.startTime(second.pid!)).toBeGreaterThan(firstStart);
  });

  it('reads a comm with spaces and parentheses that a process gave itself', async () => {
    const child = start('/usr/bin/python3', ['-c', [
      'import ctypes, sys, time',
      "ctypes.CDLL(None).prctl(15, b'w) x (y', 0, 0, 0)",
      "print('ready', flush=True)",
      'time.sleep(30)',
    ].join('\n')]);
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    const facts = reader.read(child.pid!);
    expect(facts?.comm).toBe('w) x (y');
    expect(facts?.exe).toMatch(/python3/);
  });

  it('returns undefined for a pid that does not exist', async () => {
    const child = start('/usr/bin/true', []);
    await new Promise((resolve) => child.once('exit', resolve));
    await waitFor('the child to be reaped', () => reader.startTime(child.pid!) === undefined);
    expect(reader.read(child.pid!)).toBeUndefined();
  });
});

describe('user names', () => {
  it('parses passwd, first entry per uid wins, garbage skipped', () => {
    const names = parsePasswd('root:x:0:0:root:/root:/bin/bash\n# comment\nbroken\ntoor:x:0:0::/:/bin/sh\nweb:x:33:33::/var/www:/usr/sbin/nologin\n:x:5:5::/:\nbad:x:abc:0::/:\n');
    expect([...names]).toEqual([[0, 'root'], [33, 'web']]);
  });

  it('names uids from the host file and falls back to the number', () => {
    const users = new UserNames('/etc/passwd');
    expect(users.name(0)).toBe('root');
    expect(users.name(4_000_000)).toBe('4000000');
  });

  it('names the uids of a container only from its own file, and remembers only a file it read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowscope-passwd-'));
    try {
      const own = join(dir, 'passwd');
      writeFileSync(own, 'app:x:0:0::/:/bin/sh\n');
      const users = new UserNames('/etc/passwd');
      // Unreadable (the process exiting, or no file in the image): the number, not the host's 'root'.
      expect(users.name(0, { id: 'c1', passwdPath: join(dir, 'missing') })).toBe('0');
      expect(users.name(0, { id: 'c1' })).toBe('0');
      // A later process of the same container reads its file; later lookups without a path use it.
      expect(users.name(0, { id: 'c1', passwdPath: own })).toBe('app');
      expect(users.name(0, { id: 'c1' })).toBe('app');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
