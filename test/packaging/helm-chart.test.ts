// The Helm chart rendered like `helm template` (test/packaging/helm-render: Go text/template +
// sprig) and every object validated against the Kubernetes OpenAPI schemas
// (kubernetes-models), plus what matters for this agent: least privilege, probes, RBAC, and
// a config file the agent itself accepts.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../agent/config/load-config.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const chart = join(root, 'packaging/helm/flowscope');
const work = mkdtempSync(join(tmpdir(), 'flowscope-helm-'));
const renderer = join(work, 'helm-render');
const goEnv = { ...process.env, GOPATH: '/usr/share/gocode', GO111MODULE: 'off', GOFLAGS: '', GOCACHE: join(tmpdir(), 'flowscope-helm-gocache'), GOTMPDIR: work };

type K8sObject = Record<string, any>;

beforeAll(() => {
  execFileSync('go', ['build', '-o', renderer, './test/packaging/helm-render'], { cwd: root, env: goEnv, stdio: 'pipe' });
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function render(...args: string[]): K8sObject[] {
  const text = execFileSync(renderer, ['--name', 'flowscope', '--namespace', 'monitoring', ...args, chart], { encoding: 'utf8', stdio: 'pipe' });
  return parseAllDocuments(text).map((doc) => {
    expect(doc.errors).toEqual([]);
    return doc.toJS() as K8sObject;
  });
}

function renderError(...args: string[]): string {
  try {
    render(...args);
  } catch (err) {
    return String((err as { stderr?: string }).stderr);
  }
  throw new Error('rendering succeeded');
}

const models: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace as never,
  'v1/ServiceAccount': ServiceAccount as never,
  'v1/Secret': Secret as never,
  'v1/ConfigMap': ConfigMap as never,
  'v1/Service': Service as never,
  'apps/v1/DaemonSet': DaemonSet as never,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole as never,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding as never,
};

/** Prometheus Operator CRDs are not in kubernetes-models: their required fields, by hand. */
function validateMonitor(object: K8sObject): void {
  expect(object.apiVersion).toBe('monitoring.coreos.com/v1');
  expect(object.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  expect(Object.keys(object.spec.selector.matchLabels ?? {}).length).toBeGreaterThan(0);
  const endpoints = object.kind === 'PodMonitor' ? object.spec.podMetricsEndpoints : object.spec.endpoints;
  expect(endpoints.length).toBeGreaterThan(0);
  for (const endpoint of endpoints) {
    expect(typeof endpoint.port).toBe('string');
    expect(endpoint.path).toBe('/metrics');
    expect(endpoint.interval).toMatch(/^(\d+(ms|s|m|h))+$/);
    expect(['http', 'https']).toContain(endpoint.scheme);
    expect(endpoint.bearerTokenSecret).toEqual({ name: expect.any(String), key: 'token' });
  }
}

function validateAll(objects: K8sObject[]): void {
  for (const object of objects) {
    const key = `${object.apiVersion}/${object.kind}`;
    if (object.kind === 'PodMonitor' || object.kind === 'ServiceMonitor') validateMonitor(object);
    else {
      const Model = models[key];
      expect(Model, `no schema for ${key}`).toBeDefined();
      expect(() => new Model!(object as never).validate(), `${key} ${object.metadata?.name}`).not.toThrow();
    }
  }
}

function find(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
}

/** Every `privileged` key anywhere in the objects. */
function privilegedFlags(value: unknown, found: unknown[] = []): unknown[] {
  if (Array.isArray(value)) value.forEach((v) => privilegedFlags(v, found));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'privileged') found.push(v);
      privilegedFlags(v, found);
    }
  }
  return found;
}

describe('helm chart with default values', () => {
  let objects: K8sObject[];
  let pod: K8sObject;
  let container: K8sObject;
  beforeAll(() => {
    objects = render();
    pod = find(objects, 'DaemonSet').spec.template.spec;
    container = pod.containers[0];
  });

  it('renders the agent objects, in install order, each valid against the Kubernetes schema', () => {
    expect(objects.map((o) => o.kind)).toEqual(['ServiceAccount', 'Secret', 'ConfigMap', 'ClusterRole', 'ClusterRoleBinding', 'DaemonSet']);
    validateAll(objects);
  });

  it('would catch an object the Kubernetes schema rejects', () => {
    const broken = structuredClone(find(objects, 'DaemonSet'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => new models['apps/v1/DaemonSet']!(broken as never).validate()).toThrow(/containerPort must be integer/);
    expect(() => validateAll([broken])).toThrow();
  });

  it('is never privileged: capabilities dropped to the four the agent needs, no SYS_ADMIN', () => {
    expect(privilegedFlags(objects)).toEqual([false]);
    expect(container.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['BPF', 'PERFMON', 'SYS_PTRACE', 'SYS_RESOURCE'] });
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsUser: 0 });
    expect(pod.hostNetwork).toBeUndefined();
  });

  it('shares the host PID namespace and mounts host paths read-only, except its state directory', () => {
    expect(pod.hostPID).toBe(true);
    const mounts = new Map<string, K8sObject>(container.volumeMounts.map((m: K8sObject) => [m.name, m]));
    const hostVolumes = pod.volumes.filter((v: K8sObject) => v.hostPath);
    expect(hostVolumes.map((v: K8sObject) => `${v.hostPath.path} -> ${mounts.get(v.name)!.mountPath}`)).toEqual([
      '/proc -> /host/proc', '/sys/kernel/tracing -> /sys/kernel/tracing', '/sys/fs/bpf -> /sys/fs/bpf', '/sys/kernel/btf -> /sys/kernel/btf',
      '/run/containerd -> /host/run/containerd', '/run/crio -> /host/run/crio', '/var/run/docker -> /host/var/run/docker',
      '/var/lib/flowscope -> /var/lib/flowscope',
    ]);
    for (const volume of hostVolumes) {
      expect(mounts.get(volume.name)!.readOnly === true, volume.name).toBe(volume.name !== 'state');
    }
  });

  it('probes /healthz and /readyz on the agent port', () => {
    expect(container.ports).toEqual([{ name: 'http', containerPort: 7070, protocol: 'TCP' }]);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http', scheme: 'HTTP' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http', scheme: 'HTTP' });
  });

  it('runs on every node with a node-critical priority and knows its node name', () => {
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod.priorityClassName).toBe('system-node-critical');
    const fromDownwardApi = container.env.filter((e: K8sObject) => e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName').map((e: K8sObject) => e.name);
    expect(fromDownwardApi).toEqual(['NODE_NAME', 'FLOWSCOPE_IDENTITY_NODE_NAME']);
  });

  it('limits RBAC to get/list/watch on pods, services, replicasets and jobs, bound to its service account', () => {
    const role = find(objects, 'ClusterRole');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch'] },
    ]);
    const binding = find(objects, 'ClusterRoleBinding');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: pod.serviceAccountName, namespace: 'monitoring' }]);
    expect(find(objects, 'ServiceAccount').metadata.name).toBe(pod.serviceAccountName);
  });

  it('renders a config file the agent accepts, pointing at the mounted token and host procfs', () => {
    const text = find(objects, 'ConfigMap').data['config.yaml'];
    const { config, errors } = resolveConfig({ file: { path: 'configmap/config.yaml', text }, env: { FLOWSCOPE_IDENTITY_NODE_NAME: 'node-1' } });
    expect(errors).toEqual([]);
    expect(config.stream).toMatchObject({ listen: '0.0.0.0:7070', tokenFile: '/etc/flowscope/token/token' });
    expect(config.identity).toMatchObject({ procRoot: '/host/proc', nodeName: 'node-1' });
    expect(config.baseline.learnWindow).toBe(24 * 3_600_000);
    expect(container.args).toEqual(['agent', '--config', '/etc/flowscope/config/config.yaml']);
    const annotation = find(objects, 'DaemonSet').spec.template.metadata.annotations['checksum/config'];
    expect(annotation).toBe(createHash('sha256').update(text.trimEnd()).digest('hex'));
  });

  it('creates a random 48-character token Secret mounted where the config says', () => {
    const secret = find(objects, 'Secret');
    expect(Buffer.from(secret.data.token, 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);
    const tokenVolume = pod.volumes.find((v: K8sObject) => v.name === 'token');
    expect(tokenVolume.secret).toEqual({ secretName: secret.metadata.name, defaultMode: 0o400 });
  });
});

describe('helm chart options', () => {
  it('renders the Service, PodMonitor and ServiceMonitor with the token and TLS when asked', () => {
    const values = join(work, 'values.yaml');
    writeFileSync(values, 'sinks:\n  - type: file\n    path: /var/lib/flowscope/anomalies.jsonl\n    kinds: [anomalies]\nlearnWindow: 30m\n');
    const objects = render('--values', values, '--set', 'podMonitor.enabled=true', '--set', 'serviceMonitor.enabled=true', '--set', 'stream.tlsSecret=flowscope-tls', '--set', 'token.existingSecret=my-token');
    validateAll(objects);
    expect(objects.map((o) => o.kind)).toEqual(['ServiceAccount', 'ConfigMap', 'ClusterRole', 'ClusterRoleBinding', 'Service', 'DaemonSet', 'PodMonitor', 'ServiceMonitor']);
    const pod = find(objects, 'DaemonSet').spec.template.spec;
    const podLabels = find(objects, 'DaemonSet').spec.template.metadata.labels;
    const service = find(objects, 'Service');
    expect(podLabels).toMatchObject(service.spec.selector);
    expect(service.spec.ports[0].targetPort).toBe(pod.containers[0].ports[0].name);
    for (const monitor of [find(objects, 'PodMonitor'), find(objects, 'ServiceMonitor')]) {
      expect(podLabels).toMatchObject(monitor.spec.selector.matchLabels);
      const endpoint = (monitor.spec.podMetricsEndpoints ?? monitor.spec.endpoints)[0];
      expect(endpoint).toMatchObject({ port: 'http', scheme: 'https', bearerTokenSecret: { name: 'my-token', key: 'token' } });
    }
    expect(pod.containers[0].livenessProbe.httpGet.scheme).toBe('HTTPS');
    const { config, errors } = resolveConfig({ file: { path: 'config.yaml', text: find(objects, 'ConfigMap').data['config.yaml'] } });
    expect(errors).toEqual([]);
    expect(config.stream).toMatchObject({ tlsCert: '/etc/flowscope/tls/tls.crt', tlsKey: '/etc/flowscope/tls/tls.key' });
    expect(config.sinks).toEqual([expect.objectContaining({ type: 'file', path: '/var/lib/flowscope/anomalies.jsonl', kinds: ['anomalies'] })]);
    expect(config.baseline.learnWindow).toBe(30 * 60_000);
    expect(pod.volumes.find((v: K8sObject) => v.name === 'tls').secret.secretName).toBe('flowscope-tls');
  });

  it('adds SYS_ADMIN only when asked (kernels before 5.8)', () => {
    const container = find(render('--set', 'capabilities.sysAdmin=true'), 'DaemonSet').spec.template.spec.containers[0];
    expect(container.securityContext.capabilities.add).toEqual(['BPF', 'PERFMON', 'SYS_PTRACE', 'SYS_RESOURCE', 'SYS_ADMIN']);
    expect(container.securityContext.privileged).toBe(false);
  });

  it('passes its own config keys through and still renders a valid config', () => {
    const objects = render('--set', 'config.capture.maxBodyBytes=4KiB', '--set', 'config.detectors.scan.enabled=false');
    const { config, errors } = resolveConfig({ file: { path: 'config.yaml', text: find(objects, 'ConfigMap').data['config.yaml'] } });
    expect(errors).toEqual([]);
    expect(config.capture.maxBodyBytes).toBe(4096);
    expect(config.detectors.scan.enabled).toBe(false);
  });

  it('fails with the reason when the service account is neither created nor named', () => {
    expect(renderError('--set', 'serviceAccount.create=false')).toMatch(/serviceAccount\.name is required when serviceAccount\.create is false/);
  });
});

describe('packaging/kubernetes/flowscope.yaml', () => {
  it('is the chart rendered with its defaults, valid, without a committed token', () => {
    const out = join(work, 'flowscope.yaml');
    execFileSync('bash', [join(root, 'packaging/kubernetes/render.sh'), out], { cwd: root, env: goEnv, stdio: 'pipe' });
    const shipped = readFileSync(join(root, 'packaging/kubernetes/flowscope.yaml'), 'utf8');
    expect(shipped).toBe(readFileSync(out, 'utf8'));
    const objects = parseAllDocuments(shipped).map((d) => d.toJS() as K8sObject);
    validateAll(objects);
    expect(objects.map((o) => o.kind)).toEqual(['Namespace', 'ServiceAccount', 'ConfigMap', 'ClusterRole', 'ClusterRoleBinding', 'DaemonSet']);
    expect(objects.every((o) => o.kind === 'Namespace' || o.metadata.namespace === 'flowscope' || !o.metadata.namespace)).toBe(true);
  });
});
