// The Kubernetes side of identity, through the real @kubernetes/client-node
// against an in-test API server that speaks the list/watch wire protocol
// (kube-api-server.ts): no cluster exists on this host.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IdentityResolver } from '../../../agent/identity/identity-resolver.js';
import { KubeIndex } from '../../../agent/identity/kube-index.js';
import { KubeWatcher } from '../../../agent/identity/kube-watcher.js';
import type { Endpoint } from '../../../agent/schema/flow.js';
import { waitFor } from '../../helpers/wait.mjs';
import { KubeApiServer, type KubeObject } from './kube-api-server.js';

const scratch = mkdtempSync(join(tmpdir(), 'flowscope-kube-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const NODE = 'node-a';
const hex = (n: number): string => n.toString(16).padStart(2, '0').repeat(32);

interface PodSpec {
  name: string;
  namespace?: string;
  node?: string;
  ip?: string;
  containerId?: string;
  owner?: { kind: string; name: string };
  serviceAccount?: string;
  templateHash?: string;
  hostNetwork?: boolean;
  uid?: string;
  phase?: string;
}

function pod(p: PodSpec): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: p.namespace ?? 'shop',
      ...(p.uid ? { uid: p.uid } : {}),
      ...(p.templateHash ? { labels: { 'pod-template-hash': p.templateHash } } : {}),
      ...(p.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: p.owner.kind, name: p.owner.name, uid: 'o', controller: true }] } : {}),
    },
    spec: { ...(p.node === undefined ? { nodeName: NODE } : p.node ? { nodeName: p.node } : {}), serviceAccountName: p.serviceAccount ?? 'default', ...(p.hostNetwork ? { hostNetwork: true } : {}), containers: [{ name: 'main', image: 'x' }] },
    status: {
      phase: p.phase ?? 'Running',
      ...(p.ip ? { podIP: p.ip, podIPs: [{ ip: p.ip }] } : {}),
      ...(p.containerId ? { containerStatuses: [{ name: 'main', containerID: `containerd://${p.containerId}`, ready: true, restartCount: 0, image: 'x', imageID: 'x' }] } : {}),
    },
  };
}

function owned(kind: string, name: string, owner?: { kind: string; name: string }, namespace = 'shop'): KubeObject {
  return {
    kind,
    metadata: { name, namespace, ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: 'o', controller: true }] } : {}) },
    spec: {},
  };
}

function service(name: string, clusterIP: string, namespace = 'shop'): KubeObject {
  return { kind: 'Service', metadata: { name, namespace }, spec: { clusterIP, clusterIPs: [clusterIP], ports: [{ port: 80 }] } };
}

let server: KubeApiServer;
let watcher: KubeWatcher | undefined;
let resolver: IdentityResolver | undefined;
let kubeconfig: string;

beforeEach(async () => {
  server = await KubeApiServer.start();
  kubeconfig = server.writeKubeconfig(join(scratch, `kubeconfig-${Date.now()}-${Math.random()}`));
});

afterEach(async () => {
  watcher?.stop();
  resolver?.stop();
  watcher = undefined;
  resolver = undefined;
  await server.stop();
});

function startWatcher(index: KubeIndex, options: Partial<ConstructorParameters<typeof KubeWatcher>[1]> = {}): KubeWatcher {
  watcher = new KubeWatcher(index, { kubeconfig, nodeName: NODE, backoffMinMs: 50, backoffMaxMs: 200, ...options });
  watcher.start();
  return watcher;
}

describe('KubeWatcher against a list/watch API server', () => {
  it("lists this node's pods only, and derives each pod's workload from its owners", async () => {
    server.apply('replicasets', owned('ReplicaSet', 'cart-7d9f8c6b5', { kind: 'Deployment', name: 'cart' }));
    server.apply('jobs', owned('Job', 'report-28914000', { kind: 'CronJob', name: 'report' }));
    server.apply('jobs', owned('Job', 'migrate'));
    server.apply('pods', pod({ name: 'cart-7d9f8c6b5-x2x9q', ip: '10.1.0.5', containerId: hex(1), owner: { kind: 'ReplicaSet', name: 'cart-7d9f8c6b5' }, serviceAccount: 'cart-sa', templateHash: '7d9f8c6b5' }));
    server.apply('pods', pod({ name: 'db-0', ip: '10.1.0.6', owner: { kind: 'StatefulSet', name: 'db' } }));
    server.apply('pods', pod({ name: 'agent-zq8kd', ip: '10.0.0.2', hostNetwork: true, owner: { kind: 'DaemonSet', name: 'agent' } }));
    server.apply('pods', pod({ name: 'report-28914000-abcde', ip: '10.1.0.7', owner: { kind: 'Job', name: 'report-28914000' } }));
    server.apply('pods', pod({ name: 'migrate-k2j4', ip: '10.1.0.8', owner: { kind: 'Job', name: 'migrate' } }));
    server.apply('pods', pod({ name: 'debug', ip: '10.1.0.9' }));
    server.apply('pods', pod({ name: 'elsewhere', node: 'node-b', ip: '10.2.0.5' }));
    server.apply('services', service('cart', '10.96.0.10'));
    server.apply('services', service('headless', 'None'));

    const index = new KubeIndex();
    await startWatcher(index).synced();

    expect(index.podCount).toBe(6);
    const podRequests = server.requests.filter((u) => u.pathname === '/api/v1/pods');
    expect(podRequests.length).toBeGreaterThanOrEqual(1);
    for (const u of podRequests) expect(u.searchParams.get('fieldSelector')).toBe(`spec.nodeName=${NODE}`);

    expect(index.podByContainerId(hex(1))).toMatchObject({ pod: 'cart-7d9f8c6b5-x2x9q', namespace: 'shop', workload: 'cart', workloadKind: 'Deployment', serviceAccount: 'cart-sa' });
    expect(index.byIp('10.1.0.5')).toMatchObject({ workload: 'cart', workloadKind: 'Deployment' });
    expect(index.byIp('10.1.0.6')).toMatchObject({ pod: 'db-0', workload: 'db', workloadKind: 'StatefulSet' });
    expect(index.byIp('10.1.0.7')).toMatchObject({ workload: 'report', workloadKind: 'CronJob' });
    expect(index.byIp('10.1.0.8')).toMatchObject({ workload: 'migrate', workloadKind: 'Job' });
    expect(index.byIp('10.1.0.9')).toMatchObject({ pod: 'debug', workload: 'debug', workloadKind: 'Pod' });
    // A host-network pod's IP is the node's: it does not name the pod.
    expect(index.byIp('10.0.0.2')).toBeUndefined();
    expect(index.byIp('10.2.0.5')).toBeUndefined();
    expect(index.byIp('10.96.0.10')).toEqual({ namespace: 'shop', workload: 'cart', workloadKind: 'Service' });
    expect(index.serviceCount).toBe(2);
  });

  it('follows ADDED, MODIFIED and DELETED events, including a pod scheduled onto this node later', async () => {
    const index = new KubeIndex();
    await startWatcher(index).synced();
    await waitFor('all four watches', () => server.activeWatches === 4);

    server.apply('pods', pod({ name: 'web-1', ip: '10.1.0.20', owner: { kind: 'ReplicaSet', name: 'web-5f6d7' }, templateHash: '5f6d7' }));
    await waitFor('the new pod', () => index.byIp('10.1.0.20'));
    // The ReplicaSet is not known yet: the Deployment comes from the pod-template-hash convention.
    expect(index.byIp('10.1.0.20')).toMatchObject({ workload: 'web', workloadKind: 'Deployment' });

    server.apply('pods', pod({ name: 'web-1', ip: '10.1.0.21', owner: { kind: 'ReplicaSet', name: 'web-5f6d7' }, templateHash: '5f6d7' }));
    await waitFor('the new IP', () => index.byIp('10.1.0.21'));
    expect(index.byIp('10.1.0.20')).toBeUndefined();

    // Created unscheduled, then bound to this node: the selection sees it arrive.
    server.apply('pods', pod({ name: 'late', node: '', ip: '10.1.0.30' }));
    server.apply('pods', pod({ name: 'late', ip: '10.1.0.30' }));
    await waitFor('the pod bound to this node', () => index.byIp('10.1.0.30'));

    server.delete('pods', 'shop', 'web-1');
    await waitFor('the deleted pod to go', () => index.byIp('10.1.0.21') === undefined);
    server.apply('services', service('api', '10.96.0.11'));
    await waitFor('the new service', () => index.byIp('10.96.0.11'));
    server.delete('services', 'shop', 'api');
    await waitFor('the deleted service to go', () => index.byIp('10.96.0.11') === undefined);
    expect(index.podCount).toBe(1);
  });

  it('resumes a watch the server ended from the last version seen, without relisting', async () => {
    const index = new KubeIndex();
    const w = startWatcher(index);
    await w.synced();
    await waitFor('all four watches', () => server.activeWatches === 4);
    expect(w.counters.relists).toBe(4);
    const seen = server.apply('pods', pod({ name: 'before-close', ip: '10.1.0.39' }));
    await waitFor('the pod seen through the watch', () => index.byIp('10.1.0.39'));
    server.closeWatches();
    server.apply('pods', pod({ name: 'after-close', ip: '10.1.0.40' }));
    await waitFor('the pod created while no watch was open', () => index.byIp('10.1.0.40'));
    await waitFor('all four watches again', () => server.activeWatches === 4);
    expect(w.counters.relists).toBe(4);
    expect(w.counters.watchRestarts).toBeGreaterThanOrEqual(4);
    const resumed = server.requests.filter((u) => u.pathname === '/api/v1/pods' && u.searchParams.get('watch') === 'true').at(-1)!;
    expect(resumed.searchParams.get('resourceVersion')).toBe(seen.metadata.resourceVersion);
  });

  it('relists after 410 Gone, dropping what was deleted meanwhile', async () => {
    server.apply('pods', pod({ name: 'old', ip: '10.1.0.50' }));
    const index = new KubeIndex();
    const w = startWatcher(index);
    await w.synced();
    await waitFor('all four watches', () => server.activeWatches === 4);
    await server.stop();
    // While the agent cannot see: one pod goes, one comes, and history is compacted.
    server.delete('pods', 'shop', 'old');
    server.apply('pods', pod({ name: 'new', ip: '10.1.0.51' }));
    server.compact();
    await server.listen();
    await waitFor('the relisted pod', () => index.byIp('10.1.0.51'), 10_000);
    expect(index.byIp('10.1.0.50')).toBeUndefined();
    expect(w.counters.watchErrors).toBeGreaterThan(0);
    expect(w.counters.relists).toBeGreaterThan(4);
  });

  it('retries with backoff while the API server is down, then syncs', async () => {
    await server.stop();
    const index = new KubeIndex();
    const w = startWatcher(index);
    await waitFor('a few failed attempts', () => w.counters.watchErrors >= 8);
    server.apply('pods', pod({ name: 'up', ip: '10.1.0.60' }));
    await server.listen();
    await w.synced();
    await waitFor('the pod', () => index.byIp('10.1.0.60'));
  });

  it('keeps serving the resources it may read when RBAC forbids one', async () => {
    server.forbidden.add('jobs');
    server.apply('pods', pod({ name: 'ok', ip: '10.1.0.80', owner: { kind: 'Job', name: 'nightly' } }));
    const index = new KubeIndex();
    const w = startWatcher(index);
    await waitFor('the pod', () => index.byIp('10.1.0.80'));
    await waitFor('the jobs list to be refused a few times', () => w.counters.watchErrors >= 3);
    // Without the Job, the pod's workload is the Job it names.
    expect(index.byIp('10.1.0.80')).toMatchObject({ workload: 'nightly', workloadKind: 'Job' });
    server.forbidden.delete('jobs');
    server.apply('jobs', owned('Job', 'nightly', { kind: 'CronJob', name: 'nightly-report' }));
    await w.synced();
    await waitFor('the CronJob behind the pod', () => index.byIp('10.1.0.80')?.workloadKind === 'CronJob');
  });

  it('lists in pages', async () => {
    for (let i = 0; i < 5; i++) server.apply('services', service(`svc-${i}`, `10.96.1.${i}`));
    const index = new KubeIndex();
    await startWatcher(index, { pageSize: 2 }).synced();
    expect(index.serviceCount).toBe(5);
    expect(server.requests.filter((u) => u.pathname === '/api/v1/services' && u.searchParams.has('continue')).length).toBe(2);
  });

  it('bounds its tables and counts what it left out', async () => {
    for (let i = 0; i < 4; i++) server.apply('pods', pod({ name: `p${i}`, ip: `10.1.1.${i}` }));
    const index = new KubeIndex({ maxPods: 2 });
    await startWatcher(index).synced();
    expect(index.podCount).toBe(2);
    expect(index.counters.dropped).toBe(2);
  });
});

describe('IdentityResolver with Kubernetes', () => {
  function end(ip: string, port: number, pid?: number, process?: string): Endpoint {
    return { ip, port, ...(pid ? { pid } : {}), ...(process ? { process } : {}) };
  }

  it('names a local process by the pod owning its container, and remote ends by pod and service IPs', async () => {
    const podUid = '7a1c3e5f-2b4d-4f6a-8c0e-1d3f5a7b9c2e';
    server.apply('replicasets', owned('ReplicaSet', 'checkout-6c8d', { kind: 'Deployment', name: 'checkout' }));
    server.apply('pods', pod({ name: 'checkout-6c8d-aaaaa', uid: podUid, ip: '10.1.0.70', containerId: hex(7), owner: { kind: 'ReplicaSet', name: 'checkout-6c8d' }, serviceAccount: 'checkout' }));
    server.apply('pods', pod({ name: 'payments-0', ip: '10.1.0.71', owner: { kind: 'StatefulSet', name: 'payments' } }));
    server.apply('services', service('payments', '10.96.0.71', 'shop'));

    // The local process lives in the pod's container cgroup.
    const procRoot = join(scratch, 'proc-kube');
    const dir = join(procRoot, '3131');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'stat'), '3131 (checkout) S 1 3131 3131 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0\n');
    writeFileSync(join(dir, 'status'), 'Uid:\t0\t0\t0\t0\n');
    writeFileSync(join(dir, 'cgroup'), `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${podUid.replaceAll('-', '_')}.slice/cri-containerd-${hex(7)}.scope\n`);
    symlinkSync('/app/checkout', join(dir, 'exe'));
    // The container's own root, where its user names come from.
    mkdirSync(join(dir, 'root', 'etc'), { recursive: true });
    writeFileSync(join(dir, 'root', 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');

    resolver = new IdentityResolver({ kubeconfig, nodeName: NODE, procRoot, kubeWatch: { backoffMinMs: 50 } });
    expect(resolver.kubeIndex).toBeDefined();
    await resolver.start();
    await resolver.kubeSynced();

    const local = end('10.1.0.70', 41000, 3131, 'checkout');
    resolver.enricher(local, true);
    expect(local).toEqual({
      ip: '10.1.0.70', port: 41000, pid: 3131, process: 'checkout', exe: '/app/checkout', user: 'root', containerId: hex(7),
      pod: 'checkout-6c8d-aaaaa', namespace: 'shop', workload: 'checkout', workloadKind: 'Deployment', serviceAccount: 'checkout',
    });
    expect(resolver.processIdentity(3131)?.cgroup.podUid).toBe(podUid);

    const toService = end('10.96.0.71', 8080);
    resolver.enricher(toService, false);
    expect(toService).toEqual({ ip: '10.96.0.71', port: 8080, namespace: 'shop', workload: 'payments', workloadKind: 'Service' });
    const toPod = end('10.1.0.71', 8080);
    resolver.enricher(toPod, false);
    expect(toPod).toMatchObject({ pod: 'payments-0', workload: 'payments', workloadKind: 'StatefulSet' });

    // A later change reaches already-cached processes.
    server.apply('pods', pod({ name: 'checkout-6c8d-aaaaa', uid: podUid, ip: '10.1.0.70', containerId: hex(7), owner: { kind: 'ReplicaSet', name: 'checkout-6c8d' }, serviceAccount: 'checkout-v2' }));
    await waitFor('the new service account', () => {
      const e = end('10.1.0.70', 41000, 3131, 'checkout');
      resolver!.enricher(e, true);
      return e.serviceAccount === 'checkout-v2';
    });
    expect(resolver.kubeCounters).toMatchObject({ podsTracked: 2, servicesTracked: 1 });
  });

  it('fails clearly on an unreadable kubeconfig', () => {
    expect(() => new IdentityResolver({ kubeconfig: join(scratch, 'missing.yaml') })).toThrow(/Kubernetes configuration/);
  });
});
