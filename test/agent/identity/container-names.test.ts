// Container names from runtime state laid out as docker and podman write it.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContainerNames } from '../../../agent/identity/container-names.js';
import { IdentityResolver } from '../../../agent/identity/identity-resolver.js';
import type { Endpoint } from '../../../agent/schema/flow.js';

const scratch = mkdtempSync(join(tmpdir(), 'flowscope-container-names-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const DOCKER_ID = 'd0'.repeat(32);
const PODMAN_ID = 'e1'.repeat(32);
const dockerRoot = join(scratch, 'docker');
const podmanRoot = join(scratch, 'storage');

// Trimmed from real files: docker's config.v2.json keeps the name with a leading slash.
mkdirSync(join(dockerRoot, 'containers', DOCKER_ID), { recursive: true });
writeFileSync(join(dockerRoot, 'containers', DOCKER_ID, 'config.v2.json'), JSON.stringify({ ID: DOCKER_ID, Name: '/web-frontend', State: { Running: true, Pid: 4321 }, Config: { Image: 'nginx' } }));
mkdirSync(join(podmanRoot, 'overlay-containers'), { recursive: true });
const podmanList = join(podmanRoot, 'overlay-containers', 'containers.json');
writeFileSync(podmanList, JSON.stringify([{ id: PODMAN_ID, names: ['orders-db'], image: 'abc', layer: 'def', metadata: '{}', created: '2026-11-23T10:00:00Z' }]));

describe('ContainerNames', () => {
  it('reads docker and podman names, and remembers unnamed ids', () => {
    const names = new ContainerNames({ dockerRoot, podmanRoot });
    expect(names.nameOf(DOCKER_ID, 'docker')).toBe('web-frontend');
    expect(names.nameOf(PODMAN_ID, 'podman')).toBe('orders-db');
    expect(names.nameOf(PODMAN_ID, undefined)).toBe('orders-db');
    expect(names.nameOf('f2'.repeat(32), 'containerd')).toBeUndefined();
  });

  it('sees a podman container created after the list was first read', () => {
    const names = new ContainerNames({ dockerRoot, podmanRoot });
    const later = 'a3'.repeat(32);
    expect(names.nameOf(PODMAN_ID, 'podman')).toBe('orders-db');
    writeFileSync(podmanList, JSON.stringify([{ id: PODMAN_ID, names: ['orders-db'] }, { id: later, names: ['cache'] }]));
    expect(names.nameOf(later, 'podman')).toBe('cache');
  });

  it('skips garbage state files', () => {
    const bad = join(scratch, 'bad');
    mkdirSync(join(bad, 'containers', DOCKER_ID), { recursive: true });
    writeFileSync(join(bad, 'containers', DOCKER_ID, 'config.v2.json'), '{"Name": 42');
    mkdirSync(join(bad, 'overlay-containers'), { recursive: true });
    writeFileSync(join(bad, 'overlay-containers', 'containers.json'), '{"not":"a list"}');
    const names = new ContainerNames({ dockerRoot: bad, podmanRoot: bad });
    expect(names.nameOf(DOCKER_ID, undefined)).toBeUndefined();
  });

  it('names a docker container process by its container name', () => {
    const procRoot = join(scratch, 'proc');
    const dir = join(procRoot, '4321');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'stat'), '4321 (nginx) S 1 4321 4321 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n');
    writeFileSync(join(dir, 'status'), 'Uid:\t0\t0\t0\t0\n');
    writeFileSync(join(dir, 'cgroup'), `0::/system.slice/docker-${DOCKER_ID}.scope\n`);
    symlinkSync('/usr/sbin/nginx', join(dir, 'exe'));
    const resolver = new IdentityResolver({ kubernetes: false, procRoot, containerNames: { dockerRoot, podmanRoot } });
    const end: Endpoint = { ip: '172.17.0.2', port: 80, pid: 4321, process: 'nginx' };
    resolver.enricher(end, true);
    expect(end).toMatchObject({ containerId: DOCKER_ID, workload: 'web-frontend', workloadKind: 'Container' });
  });
});
