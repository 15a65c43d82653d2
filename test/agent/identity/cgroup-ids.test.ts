// Kernel cgroup ids are the inode numbers of cgroup v2 directories; a plain
// directory tree has the same shape, so these tests walk one made for them.
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cgroup2Mount, CgroupIds } from '../../../agent/identity/cgroup-ids.js';
import { IdentityResolver } from '../../../agent/identity/identity-resolver.js';
import type { Endpoint } from '../../../agent/schema/flow.js';

const scratch = mkdtempSync(join(tmpdir(), 'flowscope-cgroup-ids-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const CONTAINER = 'ab'.repeat(32);

describe('cgroup2Mount', () => {
  it('finds the cgroup2 mount on unified and hybrid hosts', () => {
    expect(cgroup2Mount('cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n')).toBe('/sys/fs/cgroup');
    expect(cgroup2Mount('tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n')).toBe('/sys/fs/cgroup/unified');
    expect(cgroup2Mount('cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n')).toBeUndefined();
  });
});

describe('CgroupIds', () => {
  const root = join(scratch, 'tree');
  const scope = join(root, 'system.slice', `docker-${CONTAINER}.scope`);
  const plain = join(root, 'user.slice');
  mkdirSync(scope, { recursive: true });
  mkdirSync(plain);

  it('maps a directory inode to its path, walking only on a miss and at most once per interval', () => {
    const ids = new CgroupIds(root, 1000, 60_000);
    expect(ids.pathOf(statSync(scope).ino)).toBe(`/system.slice/docker-${CONTAINER}.scope`);
    expect(ids.pathOf(statSync(root).ino)).toBe('/');
    expect(ids.scans).toBe(1);
    const later = join(root, 'later');
    mkdirSync(later);
    // Created after the walk, and the interval has not passed: unknown for now.
    expect(ids.pathOf(statSync(later).ino)).toBeUndefined();
    expect(ids.scans).toBe(1);
    expect(new CgroupIds(root, 1000, 0).pathOf(statSync(later).ino)).toBe('/later');
  });

  it('caps the table', () => {
    const ids = new CgroupIds(root, 2, 0);
    ids.pathOf(1);
    const known = [root, join(root, 'system.slice'), scope, plain].map((dir) => statSync(dir).ino).filter((ino) => ids.pathOf(ino) !== undefined);
    expect(known.length).toBe(2);
  });

  it('lets the resolver name the container of a process that exited before it was read', () => {
    const procRoot = join(scratch, 'empty-proc');
    mkdirSync(procRoot, { recursive: true });
    const resolver = new IdentityResolver({ kubernetes: false, procRoot, cgroupRoot: root });
    resolver.notePid(5150, { comm: 'curl', uid: 0, cgroupId: statSync(scope).ino });
    const end: Endpoint = { ip: '127.0.0.1', port: 5000, pid: 5150, process: 'curl' };
    resolver.enricher(end, true);
    expect(end).toEqual({ ip: '127.0.0.1', port: 5000, pid: 5150, process: 'curl', user: '0', containerId: CONTAINER, workload: CONTAINER.slice(0, 12), workloadKind: 'Container' });
    expect(resolver.counters).toMatchObject({ processGone: 1, identifiedAfterExit: 1 });

    // Outside a container, the host's passwd names the uid.
    resolver.notePid(5151, { comm: 'wget', uid: 0, cgroupId: statSync(plain).ino });
    const other: Endpoint = { ip: '127.0.0.1', port: 5001, pid: 5151, process: 'wget' };
    resolver.enricher(other, true);
    expect(other).toMatchObject({ user: 'root', workload: 'wget', workloadKind: 'Process' });
    expect(other.containerId).toBeUndefined();
  });
});
