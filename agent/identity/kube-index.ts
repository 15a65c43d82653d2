// What the Kubernetes API told us, reduced to what identity needs and indexed
// for lookups by pod UID, container id and IP. Fed by the watches in
// kube-watcher.ts with raw API objects (JSON from a watch, or the client's
// deserialised list items: the field names are the same). Every table has a
// cap; objects past it are counted and left out.
import type { WorkloadKind } from './workload-kind.js';

export interface KubeIdentity {
  pod?: string;
  podUid?: string;
  namespace: string;
  workload: string;
  workloadKind: WorkloadKind;
  serviceAccount?: string;
}

export interface KubeLimits {
  maxPods: number;
  maxServices: number;
  maxReplicaSets: number;
  maxJobs: number;
}

export const defaultKubeLimits: KubeLimits = { maxPods: 4096, maxServices: 50_000, maxReplicaSets: 100_000, maxJobs: 50_000 };

/** The subset of a Kubernetes object read here; everything is optional because input is untrusted. */
export interface RawObject {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    ownerReferences?: { kind?: string; name?: string; controller?: boolean }[];
  };
  spec?: { serviceAccountName?: string; hostNetwork?: boolean; clusterIP?: string; clusterIPs?: string[] };
  status?: {
    phase?: string;
    podIP?: string;
    podIPs?: { ip?: string }[];
    containerStatuses?: { containerID?: string }[];
    initContainerStatuses?: { containerID?: string }[];
    ephemeralContainerStatuses?: { containerID?: string }[];
  };
}

interface PodRecord {
  uid: string;
  name: string;
  namespace: string;
  serviceAccount?: string;
  owner?: { kind: string; name: string };
  templateHash?: string;
  ips: string[];
  containerIds: string[];
}

interface ServiceRecord {
  name: string;
  namespace: string;
  ips: string[];
}

export interface KubeIndexCounters {
  /** Objects left out because their table was full, or that lacked a name. */
  dropped: number;
}

function controllerOf(obj: RawObject): { kind: string; name: string } | undefined {
  const owners = obj.metadata?.ownerReferences ?? [];
  const owner = owners.find((o) => o.controller) ?? owners[0];
  return owner?.kind && owner.name ? { kind: owner.kind, name: owner.name } : undefined;
}

function keyOf(obj: RawObject): string | undefined {
  const name = obj.metadata?.name;
  return name ? `${obj.metadata?.namespace ?? ''}/${name}` : undefined;
}

/** `containerd://<id>` → `<id>`. */
function bareContainerId(id: string | undefined): string | undefined {
  if (!id) return undefined;
  const at = id.indexOf('://');
  return at < 0 ? id : id.slice(at + 3);
}

export class KubeIndex {
  /** Bumped on every change, so callers can tell when their derived caches are stale. */
  generation = 0;
  readonly counters: KubeIndexCounters = { dropped: 0 };
  readonly #limits: KubeLimits;
  readonly #pods = new Map<string, PodRecord>(); // uid →
  readonly #podKeys = new Map<string, string>(); // ns/name → uid
  readonly #podsByContainer = new Map<string, string>(); // container id → uid
  readonly #podsByIp = new Map<string, string>(); // ip → uid
  readonly #services = new Map<string, ServiceRecord>(); // ns/name →
  readonly #servicesByIp = new Map<string, string>(); // cluster IP → ns/name
  readonly #replicaSets = new Map<string, string>(); // ns/name → Deployment name, '' if none
  readonly #jobs = new Map<string, string>(); // ns/name → CronJob name, '' if none

  constructor(limits: Partial<KubeLimits> = {}) {
    this.#limits = { ...defaultKubeLimits, ...limits };
  }

  get podCount(): number {
    return this.#pods.size;
  }

  get serviceCount(): number {
    return this.#services.size;
  }

  // ---- pods ----

  upsertPod(obj: RawObject): void {
    const uid = obj.metadata?.uid;
    const name = obj.metadata?.name;
    if (!uid || !name) {
      this.counters.dropped++;
      return;
    }
    const existing = this.#pods.get(uid);
    if (!existing && this.#pods.size >= this.#limits.maxPods) {
      this.counters.dropped++;
      return;
    }
    if (existing) this.#unindexPod(existing);
    const status = obj.status ?? {};
    const terminated = status.phase === 'Succeeded' || status.phase === 'Failed';
    const ips = new Set<string>();
    // Host-network pods share the node's address: the IP does not name them.
    if (!obj.spec?.hostNetwork && !terminated) {
      if (status.podIP) ips.add(status.podIP);
      for (const p of status.podIPs ?? []) if (p?.ip) ips.add(p.ip);
    }
    const containerIds: string[] = [];
    for (const list of [status.containerStatuses, status.initContainerStatuses, status.ephemeralContainerStatuses]) {
      for (const c of list ?? []) {
        const id = bareContainerId(c?.containerID);
        if (id) containerIds.push(id);
      }
    }
    const record: PodRecord = { uid, name, namespace: obj.metadata?.namespace ?? 'default', ips: [...ips], containerIds };
    const serviceAccount = obj.spec?.serviceAccountName;
    if (serviceAccount) record.serviceAccount = serviceAccount;
    const owner = controllerOf(obj);
    if (owner) record.owner = owner;
    const templateHash = obj.metadata?.labels?.['pod-template-hash'];
    if (templateHash) record.templateHash = templateHash;
    this.#pods.set(uid, record);
    this.#podKeys.set(`${record.namespace}/${name}`, uid);
    for (const id of containerIds) this.#podsByContainer.set(id, uid);
    for (const ip of record.ips) this.#podsByIp.set(ip, uid);
    this.generation++;
  }

  deletePod(obj: RawObject): void {
    const key = keyOf(obj);
    const uid = obj.metadata?.uid ?? (key ? this.#podKeys.get(key) : undefined);
    const record = uid ? this.#pods.get(uid) : undefined;
    if (!record) return;
    this.#unindexPod(record);
    this.#pods.delete(record.uid);
    this.generation++;
  }

  /** A fresh list: what it does not hold is gone. */
  replacePods(items: readonly RawObject[]): void {
    for (const record of [...this.#pods.values()]) this.#unindexPod(record);
    this.#pods.clear();
    for (const item of items) this.upsertPod(item);
    this.generation++;
  }

  #unindexPod(record: PodRecord): void {
    this.#podKeys.delete(`${record.namespace}/${record.name}`);
    for (const id of record.containerIds) if (this.#podsByContainer.get(id) === record.uid) this.#podsByContainer.delete(id);
    for (const ip of record.ips) if (this.#podsByIp.get(ip) === record.uid) this.#podsByIp.delete(ip);
  }

  // ---- services ----

  upsertService(obj: RawObject): void {
    const key = keyOf(obj);
    if (!key) {
      this.counters.dropped++;
      return;
    }
    const existing = this.#services.get(key);
    if (!existing && this.#services.size >= this.#limits.maxServices) {
      this.counters.dropped++;
      return;
    }
    if (existing) this.#unindexService(key, existing);
    const ips = new Set<string>();
    for (const ip of [obj.spec?.clusterIP, ...(obj.spec?.clusterIPs ?? [])]) if (ip && ip !== 'None') ips.add(ip);
    const record: ServiceRecord = { name: obj.metadata!.name!, namespace: obj.metadata?.namespace ?? 'default', ips: [...ips] };
    this.#services.set(key, record);
    for (const ip of record.ips) this.#servicesByIp.set(ip, key);
    this.generation++;
  }

  deleteService(obj: RawObject): void {
    const key = keyOf(obj);
    const record = key ? this.#services.get(key) : undefined;
    if (!key || !record) return;
    this.#unindexService(key, record);
    this.#services.delete(key);
    this.generation++;
  }

  replaceServices(items: readonly RawObject[]): void {
    this.#services.clear();
    this.#servicesByIp.clear();
    for (const item of items) this.upsertService(item);
    this.generation++;
  }

  #unindexService(key: string, record: ServiceRecord): void {
    for (const ip of record.ips) if (this.#servicesByIp.get(ip) === key) this.#servicesByIp.delete(ip);
  }

  // ---- owners: ReplicaSet → Deployment, Job → CronJob ----

  upsertReplicaSet(obj: RawObject): void {
    this.#setOwner(this.#replicaSets, this.#limits.maxReplicaSets, obj, 'Deployment');
  }

  deleteReplicaSet(obj: RawObject): void {
    const key = keyOf(obj);
    if (key && this.#replicaSets.delete(key)) this.generation++;
  }

  replaceReplicaSets(items: readonly RawObject[]): void {
    this.#replicaSets.clear();
    for (const item of items) this.upsertReplicaSet(item);
    this.generation++;
  }

  upsertJob(obj: RawObject): void {
    this.#setOwner(this.#jobs, this.#limits.maxJobs, obj, 'CronJob');
  }

  deleteJob(obj: RawObject): void {
    const key = keyOf(obj);
    if (key && this.#jobs.delete(key)) this.generation++;
  }

  replaceJobs(items: readonly RawObject[]): void {
    this.#jobs.clear();
    for (const item of items) this.upsertJob(item);
    this.generation++;
  }

  #setOwner(table: Map<string, string>, max: number, obj: RawObject, ownerKind: string): void {
    const key = keyOf(obj);
    if (!key || (!table.has(key) && table.size >= max)) {
      this.counters.dropped++;
      return;
    }
    const owner = controllerOf(obj);
    const value = owner?.kind === ownerKind ? owner.name : '';
    if (table.get(key) === value) return;
    table.set(key, value);
    this.generation++;
  }

  // ---- lookups ----

  podByUid(uid: string): KubeIdentity | undefined {
    const record = this.#pods.get(uid);
    return record && this.#podIdentity(record);
  }

  podByContainerId(containerId: string): KubeIdentity | undefined {
    const uid = this.#podsByContainer.get(containerId);
    return uid === undefined ? undefined : this.podByUid(uid);
  }

  /** A pod of this node by its IP, else a service by its cluster IP. */
  byIp(ip: string): KubeIdentity | undefined {
    const uid = this.#podsByIp.get(ip);
    if (uid !== undefined) return this.podByUid(uid);
    const key = this.#servicesByIp.get(ip);
    const service = key === undefined ? undefined : this.#services.get(key);
    return service && { namespace: service.namespace, workload: service.name, workloadKind: 'Service' };
  }

  #podIdentity(pod: PodRecord): KubeIdentity {
    const identity: KubeIdentity = { pod: pod.name, podUid: pod.uid, namespace: pod.namespace, ...this.#workloadOf(pod) };
    if (pod.serviceAccount) identity.serviceAccount = pod.serviceAccount;
    return identity;
  }

  #workloadOf(pod: PodRecord): { workload: string; workloadKind: WorkloadKind } {
    const owner = pod.owner;
    switch (owner?.kind) {
      case 'ReplicaSet': {
        const deployment = this.#replicaSets.get(`${pod.namespace}/${owner.name}`);
        if (deployment) return { workload: deployment, workloadKind: 'Deployment' };
        // Not listed yet: a Deployment names its ReplicaSets `<deployment>-<pod-template-hash>`.
        if (deployment === undefined && pod.templateHash && owner.name.endsWith(`-${pod.templateHash}`)) {
          return { workload: owner.name.slice(0, -pod.templateHash.length - 1), workloadKind: 'Deployment' };
        }
        return { workload: pod.name, workloadKind: 'Pod' };
      }
      case 'Job': {
        const cronJob = this.#jobs.get(`${pod.namespace}/${owner.name}`);
        return cronJob ? { workload: cronJob, workloadKind: 'CronJob' } : { workload: owner.name, workloadKind: 'Job' };
      }
      case 'StatefulSet':
      case 'DaemonSet':
        return { workload: owner.name, workloadKind: owner.kind };
      default:
        return { workload: pod.name, workloadKind: 'Pod' };
    }
  }
}
