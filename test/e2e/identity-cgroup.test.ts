// End to end on the real kernel: real servers and clients run in real cgroup
// directories named the way containerd (in a kubelet pod slice), cri-o and
// docker name them (v2, and v1 where the host has a v1 hierarchy); the kernel
// capture sees their HTTP calls, and both ends of each flow carry the container
// id, and for the server its pod, namespace, Deployment and service account
// from the Kubernetes list/watch (an in-test API server speaking the wire
// protocol: there is no cluster on this host).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelEngine } from '../../agent/capture/kernel-engine.js';
import type { SocketEvent } from '../../agent/capture/socket-event.js';
import { cgroup2Mount } from '../../agent/identity/cgroup-ids.js';
import { IdentityResolver } from '../../agent/identity/identity-resolver.js';
import { createLogger } from '../../agent/log.js';
import { Pipeline } from '../../agent/pipeline.js';
import { flowThroughSchema, type Flow } from '../../agent/schema/flow.js';
import { freePort } from '../helpers/nginx.mjs';
import { waitFor } from '../helpers/wait.mjs';
import { buildNative } from '../native/support.js';
import { KubeApiServer } from '../agent/identity/kube-api-server.js';

const PYTHON = '/usr/bin/python3';
const NODE = 'identity-e2e-node';
const run = `${process.pid}`.padStart(8, '0');
// Ids unique to this run, shaped as the runtimes make them.
const SERVER_CONTAINER = `${run}aa`.padEnd(64, '1');
const CLIENT_CONTAINER = `${run}bb`.padEnd(64, '2');
const POD_UID = `${run}-0000-4000-8000-000000000001`;
const CRIO_CONTAINER = `${run}cc`.padEnd(64, '3');
const UNKNOWN_POD_UID = `${run}-0000-4000-8000-000000000002`;
const V1_CONTAINER = `${run}dd`.padEnd(64, '4');

/** This process's cgroup v2 path: new groups go beside it, so delegation rules are met. */
function ownCgroup2Path(): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
  return line ? line.slice(3) : '/';
}

const root = cgroup2Mount();
if (!root) throw new Error('no cgroup2 mount on this host');
const base = join(root, ownCgroup2Path(), `flowscope-identity-${process.pid}`);
const serverGroup = join(base, 'kubepods.slice', 'kubepods-besteffort.slice', `kubepods-besteffort-pod${POD_UID.replaceAll('-', '_')}.slice`, `cri-containerd-${SERVER_CONTAINER}.scope`);
const clientGroup = join(base, 'system.slice', `docker-${CLIENT_CONTAINER}.scope`);
const crioGroup = join(base, 'kubepods.slice', 'kubepods-burstable.slice', `kubepods-burstable-pod${UNKNOWN_POD_UID.replaceAll('-', '_')}.slice`, `crio-${CRIO_CONTAINER}.scope`);
/** A cgroup v1 hierarchy, where the host has one (hybrid hosts): the named systemd one needs no controller. */
const v1Root = (() => {
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, mountPoint, type, options] = line.split(' ');
    if (type === 'cgroup' && mountPoint && options?.split(',').includes('name=systemd')) return mountPoint;
  }
  return undefined;
})();
const v1Base = v1Root && join(v1Root, `flowscope-identity-${process.pid}`);

const children: ChildProcess[] = [];
const flows: Flow[] = [];
let api: KubeApiServer;
let resolver: IdentityResolver;
let engine: KernelEngine;
let scratch: string;

/** Removes the cgroup tree deepest first (each must be empty of processes). */
function removeCgroups(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirDirs(dir)) removeCgroups(join(dir, entry));
  rmdirSync(dir);
}

/** Child groups: cgroupfs lists control files beside them. */
function readdirDirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
}

beforeAll(async () => {
  buildNative();
  scratch = mkdtempSync(join(tmpdir(), 'flowscope-identity-e2e-'));
  mkdirSync(serverGroup, { recursive: true });
  mkdirSync(clientGroup, { recursive: true });
  mkdirSync(crioGroup, { recursive: true });
  if (v1Base) mkdirSync(join(v1Base, 'docker', V1_CONTAINER), { recursive: true });

  api = await KubeApiServer.start();
  api.apply('replicasets', { kind: 'ReplicaSet', metadata: { name: 'checkout-6c8d9', namespace: 'shop', ownerReferences: [{ kind: 'Deployment', name: 'checkout', controller: true }] } });
  api.apply('pods', {
    kind: 'Pod',
    metadata: { name: 'checkout-6c8d9-q7x2m', namespace: 'shop', uid: POD_UID, ownerReferences: [{ kind: 'ReplicaSet', name: 'checkout-6c8d9', controller: true }] },
    spec: { nodeName: NODE, serviceAccountName: 'checkout' },
    status: { phase: 'Running', podIP: '198.18.40.7', containerStatuses: [{ name: 'app', containerID: `containerd://${SERVER_CONTAINER}` }] },
  });
  resolver = new IdentityResolver({ kubeconfig: api.writeKubeconfig(join(scratch, 'kubeconfig')), nodeName: NODE });
  await resolver.start();
  await resolver.kubeSynced();

  // As the agent wires it: identity on every flow, and each new connection's
  // process read while it is surely alive.
  const pipeline = new (class extends Pipeline {
    override handle(event: SocketEvent, nowMs: number): void {
      if (event.kind === 'open') resolver.notePid(event.tgid, event);
      super.handle(event, nowMs);
    }
  })({ selfTgid: process.pid });
  pipeline.addEnricher(resolver.enricher);
  pipeline.onFlow((flow) => flows.push(flowThroughSchema(flow)));
  engine = new KernelEngine(pipeline, createLogger('warn'), { maxCaptureBytes: 4096, tlsProbes: false });
  engine.start();
  await engine.firstBatch();
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  await engine?.stop();
  resolver?.stop();
  await api?.stop();
  // A group is removable once its last process is reaped.
  await waitFor('the test cgroups to be removed', () => {
    try {
      removeCgroups(base);
      if (v1Base) removeCgroups(v1Base);
      return true;
    } catch {
      return false;
    }
  });
  rmSync(scratch, { recursive: true, force: true });
});

let port: number;
let server: ChildProcess;

async function flowsFor(path: string): Promise<{ serverSide: Flow; clientSide: Flow }> {
  const seen: Flow[] = await waitFor(`client and server flows for ${path}`, () => {
    const mine = flows.filter((f) => f.destination.port === port && f.http.path === path);
    return mine.length >= 2 ? mine : undefined;
  });
  return { serverSide: seen.find((f) => f.observedAt === 'SERVER')!, clientSide: seen.find((f) => f.observedAt === 'CLIENT')! };
}

describe('identity of real processes in container cgroups', () => {
  it('puts container, pod and Deployment on both ends of a captured flow', async () => {
    port = await freePort();
    // The server joins its container cgroup before it starts serving.
    server = spawn('/bin/sh', ['-c', `echo $$ > ${join(serverGroup, 'cgroup.procs')} && exec ${PYTHON} -m http.server ${port} --bind 127.0.0.1 --protocol HTTP/1.1`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      cwd: scratch,
    });
    children.push(server);
    await waitFor('the server to listen', () => new Promise<boolean>((resolve) => {
      const probe = spawn('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/`]);
      probe.once('exit', (code) => resolve(code === 0));
    }));
    writeFileSync(join(scratch, 'hello.txt'), 'hello\n');

    // The client keeps its process and its keep-alive connection open after the
    // request, inside its own container cgroup, so both ends are known to conntrack.
    const client = spawn('/bin/sh', ['-c', `echo $$ > ${join(clientGroup, 'cgroup.procs')} && exec ${PYTHON} -u -c '
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", ${port})
c.request("GET", "/hello.txt")
c.getresponse().read()
print("done", flush=True)
sys.stdin.read()
'`], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(client);

    const { serverSide, clientSide } = await flowsFor('/hello.txt');
    expect(serverSide).toBeDefined();
    expect(clientSide).toBeDefined();

    for (const flow of [serverSide, clientSide]) {
      expect(flow.destination).toMatchObject({
        pid: server.pid,
        containerId: SERVER_CONTAINER,
        pod: 'checkout-6c8d9-q7x2m',
        namespace: 'shop',
        workload: 'checkout',
        workloadKind: 'Deployment',
        serviceAccount: 'checkout',
        user: 'root',
      });
      expect(flow.destination.exe).toMatch(/python3/);
      expect(flow.source).toMatchObject({
        pid: client.pid,
        containerId: CLIENT_CONTAINER,
        workload: CLIENT_CONTAINER.slice(0, 12),
        workloadKind: 'Container',
      });
      expect(flow.source.exe).toMatch(/python3/);
      expect(flow.source.pod).toBeUndefined();
    }

    const serverIdentity = resolver.processIdentity(server.pid!)!;
    expect(serverIdentity.cgroup).toMatchObject({ containerId: SERVER_CONTAINER, runtime: 'containerd', podUid: POD_UID });
    expect(resolver.processIdentity(client.pid!)!.cgroup).toMatchObject({ containerId: CLIENT_CONTAINER, runtime: 'docker' });
  });

  it('names a short-lived client in a cri-o container of a pod the API does not know, from its cgroup', async () => {
    const curl = spawn('/bin/sh', ['-c', `echo $$ > ${join(crioGroup, 'cgroup.procs')} && exec curl -s -o /dev/null http://127.0.0.1:${port}/hello.txt?crio`], { stdio: 'ignore' });
    children.push(curl);
    const { serverSide, clientSide } = await flowsFor('/hello.txt?crio');
    for (const flow of [serverSide, clientSide]) {
      expect(flow.http.status).toBe(200);
      expect(flow.source).toMatchObject({ pid: curl.pid, process: 'curl', containerId: CRIO_CONTAINER, workload: CRIO_CONTAINER.slice(0, 12), workloadKind: 'Container' });
      // Read from /proc if curl was still there when its connection-open record was
      // handled; otherwise from the kernel's cgroup id and uid (no exe, and the uid
      // unnamed, since the container's own passwd file went with its only process).
      if (flow.source.exe === undefined) expect(flow.source.user).toBe('0');
      else expect(flow.source).toMatchObject({ exe: '/usr/bin/curl', user: 'root' });
      expect(flow.source.pod).toBeUndefined();
      expect(flow.destination.workload).toBe('checkout');
    }
    expect(resolver.processIdentity(curl.pid!)?.cgroup).toMatchObject({ runtime: 'cri-o', podUid: UNKNOWN_POD_UID });
  });

  it.skipIf(!v1Base)('reads a docker container from a cgroup v1 hierarchy on a hybrid host', async () => {
    const client = spawn('/bin/sh', ['-c', `echo $$ > ${join(v1Base!, 'docker', V1_CONTAINER, 'cgroup.procs')} && exec ${PYTHON} -u -c '
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", ${port})
c.request("GET", "/hello.txt?v1")
c.getresponse().read()
sys.stdin.read()
'`], { stdio: ['pipe', 'ignore', 'inherit'] });
    children.push(client);
    const { serverSide } = await flowsFor('/hello.txt?v1');
    expect(serverSide.source).toMatchObject({ pid: client.pid, containerId: V1_CONTAINER, workloadKind: 'Container' });
    expect(resolver.processIdentity(client.pid!)?.cgroup).toMatchObject({ containerId: V1_CONTAINER, runtime: 'docker', path: `/flowscope-identity-${process.pid}/docker/${V1_CONTAINER}` });
  });
});
