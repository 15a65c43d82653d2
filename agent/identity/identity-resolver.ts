// Identity of both ends of every flow and connection record: the process
// behind a local end (comm, exe, user, container, pod), and for ends without a
// process, the pod or service of an IP from the Kubernetes watch, or a naming
// rule. `enricher` runs synchronously on the pipeline's hot path, so process
// facts are cached per pid (bounded LRU) and tied to the process's start time:
// a pid reused by another process is noticed and never inherits the old
// identity. Kubernetes data arrives asynchronously from the watches.
import { accessSync, constants as fsConstants } from 'node:fs';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { BoundedMap } from '../bounded-map.js';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Endpoint } from '../schema/flow.js';
import { CgroupIds } from './cgroup-ids.js';
import { ContainerNames, type ContainerNameOptions } from './container-names.js';
import { identityOfPath, shortContainerId, type CgroupIdentity } from './cgroup-path.js';
import { KubeIndex, type KubeIdentity, type KubeLimits } from './kube-index.js';
import type { KubeWatcher, KubeWatcherOptions } from './kube-watcher.js';
import { NamingRules, type NamingRule } from './naming-rules.js';
import { ProcReader } from './proc-reader.js';
import { UserNames } from './user-names.js';
import type { WorkloadKind } from './workload-kind.js';

export interface IdentityOptions {
  /** Off: the enricher does nothing. Default on. */
  enabled?: boolean;
  /** Read /proc for ends with a pid. Default on. */
  processes?: boolean;
  namingRules?: NamingRule[];
  /** Processes remembered (LRU). Default 8192. */
  processCacheSize?: number;
  /** Remote addresses remembered for naming rules (LRU). Default 8192. */
  remoteCacheSize?: number;
  /** A cached process is re-checked (one read of /proc/PID/stat) unless its entry is younger than this (0: every time). Default 5000. */
  verifyAfterMs?: number;
  /** `notePid` (a new connection) re-checks an entry unless it is younger than this. Default 1000. */
  verifyOnOpenMs?: number;
  /** 'auto' (default): on when running in a cluster or when `kubeconfig` is set. */
  kubernetes?: boolean | 'auto';
  /** A kubeconfig file; without it, the in-cluster service account. */
  kubeconfig?: string;
  /** This node's name for the pod watch. Default: $NODE_NAME, else the host name. */
  nodeName?: string;
  kubeLimits?: Partial<KubeLimits>;
  kubeWatch?: Pick<KubeWatcherOptions, 'pageSize' | 'watchTimeoutSeconds' | 'backoffMinMs' | 'backoffMaxMs'>;
  /** Where /proc, the host passwd file and the cgroup v2 tree are (tests point these at prepared trees). */
  procRoot?: string;
  passwdPath?: string;
  cgroupRoot?: string;
  /** Where docker and podman keep container state, for container names. */
  containerNames?: ContainerNameOptions;
}

/** What the kernel recorded with a connection open (ConnOpenEvent has these fields). */
export interface ProcessHints {
  comm?: string;
  uid?: number;
  /** Kernel cgroup v2 id: names the container even after the process is gone. */
  cgroupId?: number;
}

export interface IdentityCounters {
  cacheHits: number;
  cacheMisses: number;
  cacheEvictions: number;
  /** A cached pid turned out to name a different process (start time changed). */
  pidReuses: number;
  /** The process had exited before its first lookup. */
  processGone: number;
  /** …of which identified from the kernel's uid and cgroup id at connection open. */
  identifiedAfterExit: number;
  remoteCacheEvictions: number;
}

/** Everything known about one process, as the e2e tests and `flowscope doctor` may ask. */
export interface ProcessIdentity {
  pid: number;
  startTime: number;
  comm: string;
  exe?: string;
  user?: string;
  cgroup: CgroupIdentity;
  kube?: KubeIdentity;
  workload: string;
  workloadKind: WorkloadKind;
}

interface ProcessEntry {
  pid: number;
  startTime: number;
  comm: string;
  /** Names this process's threads were seen with on connections (bounded). */
  comms: string[];
  exe?: string;
  user?: string;
  cgroup: CgroupIdentity;
  /** Workload when no rule or pod names it: container short id, else process name. */
  fallback: { workload: string; workloadKind: WorkloadKind };
  checkedMs: number;
  kubeGeneration: number;
  kube: KubeIdentity | undefined;
}

// Past this many thread names, a new one no longer triggers a re-check (the age check still runs).
const MAX_COMMS_PER_PROCESS = 8;
// The kernel truncates comm to 15 bytes.
const COMM_MAX = 15;

/** comm, or the executable's name when comm is the kernel's truncation of it. */
export function processName(comm: string, exe: string | undefined): string {
  if (exe && comm.length >= COMM_MAX) {
    const base = basename(exe);
    if (base.startsWith(comm)) return base;
  }
  return comm;
}

/** True when this process runs inside a cluster (kubelet sets these for every pod). */
export function inCluster(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT);
}

function kubeConfigError(kubeconfig: string | undefined, err: Error): FlowscopeError {
  return new FlowscopeError(
    ErrorCodes.BAD_FLAG,
    `cannot read the Kubernetes configuration${kubeconfig ? ` '${kubeconfig}'` : ' (in-cluster service account)'}: ${err.message}`,
    'set identity.kubeconfig to a readable kubeconfig, or identity.kubernetes to false',
    { cause: err },
  );
}

export class IdentityResolver {
  readonly counters: IdentityCounters = { cacheHits: 0, cacheMisses: 0, cacheEvictions: 0, pidReuses: 0, processGone: 0, identifiedAfterExit: 0, remoteCacheEvictions: 0 };
  readonly kubeIndex: KubeIndex | undefined;
  #kubeWatcher: KubeWatcher | undefined;
  readonly #kubeWatcherOptions: KubeWatcherOptions | undefined;
  readonly #log: Logger | undefined;
  readonly #enabled: boolean;
  readonly #processesEnabled: boolean;
  readonly #verifyAfterMs: number;
  readonly #verifyOnOpenMs: number;
  readonly #procRoot: string;
  readonly #proc: ProcReader;
  readonly #users: UserNames;
  readonly #cgroupIds: CgroupIds;
  readonly #containerNames: ContainerNames;
  readonly #processes: BoundedMap<number, ProcessEntry>;
  readonly #remotes: BoundedMap<string, { generation: number; match: { workload: string; workloadKind: WorkloadKind } | null }>;
  #rules: NamingRules;
  #rulesGeneration = 0;
  /** Bumped whenever a cached process entry is added, replaced or dropped, or the rules change. */
  #changes = 0;
  #passwdTimer: NodeJS.Timeout | undefined;
  /** Bumped by start() and stop(): a start() that finds it changed after loading the client was stopped. */
  #runs = 0;

  constructor(options: IdentityOptions = {}, log?: Logger) {
    this.#log = log;
    this.#enabled = options.enabled ?? true;
    this.#processesEnabled = options.processes ?? true;
    this.#verifyAfterMs = options.verifyAfterMs ?? 5000;
    this.#verifyOnOpenMs = options.verifyOnOpenMs ?? 1000;
    this.#procRoot = options.procRoot ?? '/proc';
    this.#proc = new ProcReader(this.#procRoot);
    this.#users = new UserNames(options.passwdPath ?? '/etc/passwd');
    this.#cgroupIds = new CgroupIds(options.cgroupRoot);
    this.#containerNames = new ContainerNames(options.containerNames);
    this.#rules = new NamingRules(options.namingRules ?? []);
    this.#processes = new BoundedMap(options.processCacheSize ?? 8192, () => {
      this.counters.cacheEvictions++;
      this.#changes++;
    });
    this.#remotes = new BoundedMap(options.remoteCacheSize ?? 8192, () => this.counters.remoteCacheEvictions++);
    const kubernetes = options.kubernetes ?? 'auto';
    const wantKube = this.#enabled && (kubernetes === true || (kubernetes === 'auto' && (Boolean(options.kubeconfig) || inCluster())));
    if (wantKube) {
      // Fail before capture starts, without loading the client library, when the file is unreadable.
      if (options.kubeconfig) {
        try {
          accessSync(options.kubeconfig, fsConstants.R_OK);
        } catch (err) {
          throw kubeConfigError(options.kubeconfig, err as Error);
        }
      }
      this.kubeIndex = new KubeIndex(options.kubeLimits);
      this.#kubeWatcherOptions = { ...options.kubeWatch, kubeconfig: options.kubeconfig, nodeName: options.nodeName || process.env.NODE_NAME || hostname() };
    }
  }

  /** Starts the Kubernetes watches and the passwd refresh. */
  async start(): Promise<void> {
    const run = ++this.#runs;
    if (this.#kubeWatcherOptions && this.kubeIndex && !this.#kubeWatcher) {
      const { KubeWatcher } = await import('./kube-watcher.js');
      if (run !== this.#runs) return; // stopped while the client library loaded
      const options = this.#kubeWatcherOptions;
      try {
        this.#kubeWatcher = new KubeWatcher(this.kubeIndex, options, this.#log);
      } catch (err) {
        throw kubeConfigError(options.kubeconfig, err as Error);
      }
    }
    this.#kubeWatcher?.start();
    this.#passwdTimer ??= setInterval(() => void this.#users.refresh(), 60_000);
    this.#passwdTimer.unref();
  }

  stop(): void {
    this.#runs++;
    this.#kubeWatcher?.stop();
    clearInterval(this.#passwdTimer);
    this.#passwdTimer = undefined;
  }

  /** Resolves once each Kubernetes resource was listed (at once without Kubernetes or before start()). */
  async kubeSynced(): Promise<void> {
    await this.#kubeWatcher?.synced();
  }

  get kubeCounters(): { watchRestarts: number; watchErrors: number; relists: number; podsTracked: number; servicesTracked: number; objectsDropped: number } | undefined {
    if (!this.#kubeWatcher || !this.kubeIndex) return undefined;
    return { ...this.#kubeWatcher.counters, podsTracked: this.kubeIndex.podCount, servicesTracked: this.kubeIndex.serviceCount, objectsDropped: this.kubeIndex.counters.dropped };
  }

  get processesCached(): number {
    return this.#processes.size;
  }

  /** Replaces the naming rules (config reload); a bad rule throws and leaves the old ones. */
  setNamingRules(rules: readonly NamingRule[]): void {
    this.#rules = new NamingRules(rules);
    this.#rulesGeneration++;
    this.#changes++;
    this.#remotes.clear();
  }

  /**
   * For `pipeline.addEnricher`: changes whenever `enricher` could fill an end
   * differently, i.e. when what it reads changed: the process cache, the
   * naming rules or the Kubernetes index. (An end's answer depends on nothing
   * else: users and container names are read into a process's entry.)
   */
  readonly generation = (): number => this.#changes + (this.kubeIndex?.generation ?? 0);

  /** For `pipeline.addEnricher`: fills identity fields of one end in place. */
  readonly enricher = (end: Endpoint, _local: boolean): void => {
    if (!this.#enabled) return;
    if (end.pid && this.#processesEnabled) this.#enrichProcess(end, end.pid);
    else this.#enrichRemote(end);
  };

  /**
   * A connection was opened by `pid` (call from the capture's connection-open
   * hook, passing the event as hints): reads the process while it is most
   * likely alive, so a short-lived client is known by the time its flow is
   * built. If it is already gone, the kernel's uid and cgroup id still give
   * its user and container.
   */
  notePid(pid: number, hints?: ProcessHints): void {
    if (!this.#enabled || !this.#processesEnabled || pid <= 0) return;
    this.#lookup(pid, hints?.comm || undefined, this.#verifyOnOpenMs, hints);
  }

  /** Everything known about a live (or cached) process; undefined if unknown. */
  processIdentity(pid: number): ProcessIdentity | undefined {
    const entry = this.#lookup(pid, undefined, this.#verifyAfterMs);
    if (!entry) return undefined;
    const kube = this.#kubeOf(entry);
    const rule = kube ? undefined : this.#rules.match({ ip: '', port: -1, comm: entry.comm, ...(entry.exe ? { exe: entry.exe } : {}), cgroupPath: entry.cgroup.path });
    const identity: ProcessIdentity = {
      pid,
      startTime: entry.startTime,
      comm: entry.comm,
      cgroup: entry.cgroup,
      workload: kube?.workload ?? rule?.workload ?? entry.fallback.workload,
      workloadKind: kube?.workloadKind ?? rule?.kind ?? entry.fallback.workloadKind,
    };
    if (entry.exe) identity.exe = entry.exe;
    if (entry.user) identity.user = entry.user;
    if (kube) identity.kube = kube;
    return identity;
  }

  #enrichProcess(end: Endpoint, pid: number): void {
    const entry = this.#lookup(pid, end.process, this.#verifyAfterMs);
    if (!entry) {
      // Gone before we could look: the kernel's comm is all there is.
      const rule = this.#rules.size > 0 ? this.#rules.match({ ip: end.ip, port: end.port, ...(end.process ? { comm: end.process } : {}) }) : undefined;
      if (rule) {
        end.workload = rule.workload;
        end.workloadKind = rule.kind ?? 'Process';
      } else if (end.process) {
        end.workload = end.process;
        end.workloadKind = 'Process';
      }
      return;
    }
    end.process ??= entry.comm;
    if (entry.exe) end.exe = entry.exe;
    if (entry.user) end.user = entry.user;
    if (entry.cgroup.containerId) end.containerId = entry.cgroup.containerId;
    const kube = this.#kubeOf(entry);
    if (kube) {
      applyKube(end, kube);
      return;
    }
    const rule = this.#rules.size > 0
      ? this.#rules.match({ ip: end.ip, port: end.port, comm: entry.comm, ...(entry.exe ? { exe: entry.exe } : {}), cgroupPath: entry.cgroup.path })
      : undefined;
    end.workload = rule?.workload ?? entry.fallback.workload;
    end.workloadKind = rule ? (rule.kind ?? entry.fallback.workloadKind) : entry.fallback.workloadKind;
  }

  #enrichRemote(end: Endpoint): void {
    const kube = this.kubeIndex?.byIp(end.ip);
    if (kube) {
      applyKube(end, kube);
      return;
    }
    if (this.#rules.size === 0 || !this.#rules.matchesRemoteEnds) return;
    // Port rules make the port part of the answer.
    const key = `${end.ip} ${end.port}`;
    let cached = this.#remotes.get(key);
    if (!cached || cached.generation !== this.#rulesGeneration) {
      const rule = this.#rules.match({ ip: end.ip, port: end.port });
      cached = { generation: this.#rulesGeneration, match: rule ? { workload: rule.workload, workloadKind: rule.kind ?? 'External' } : null };
      this.#remotes.set(key, cached);
    }
    if (cached.match) {
      end.workload = cached.match.workload;
      end.workloadKind = cached.match.workloadKind;
    }
  }

  /**
   * The cached entry for `pid` if it still names the same process, else a fresh
   * read. An entry is re-checked (start time only) when older than `maxAgeMs`
   * or when a connection shows a thread name not seen before for it.
   */
  #lookup(pid: number, comm: string | undefined, maxAgeMs: number, hints?: ProcessHints): ProcessEntry | undefined {
    const now = Date.now();
    const entry = this.#processes.get(pid);
    if (entry) {
      const commKnown = comm === undefined || entry.comms.length >= MAX_COMMS_PER_PROCESS || entry.comms.includes(comm);
      // Younger than maxAgeMs: a cache hit. Not `<=`: with 0, an entry checked
      // within the same millisecond would skip the check that 0 asks for.
      if (commKnown && now - entry.checkedMs < maxAgeMs) {
        this.counters.cacheHits++;
        return entry;
      }
      const startTime = this.#proc.startTime(pid);
      if (startTime === entry.startTime) {
        entry.checkedMs = now;
        if (!commKnown && entry.comms.length < MAX_COMMS_PER_PROCESS) entry.comms.push(comm!);
        this.counters.cacheHits++;
        return entry;
      }
      if (startTime === undefined) {
        // Exited since: the entry still describes it, unless the name says otherwise.
        if (commKnown) {
          this.counters.cacheHits++;
          return entry;
        }
        this.#forget(pid);
        this.counters.processGone++;
        return undefined;
      }
      this.counters.pidReuses++;
      this.#forget(pid);
    }
    this.counters.cacheMisses++;
    const fresh = this.#load(pid, now) ?? this.#fromHints(pid, now, hints);
    if (!fresh) {
      this.counters.processGone++;
      return undefined;
    }
    if (comm !== undefined && comm !== fresh.comm) fresh.comms.push(comm);
    this.#processes.set(pid, fresh);
    this.#changes++;
    return fresh;
  }

  #forget(pid: number): void {
    this.#processes.delete(pid);
    this.#changes++;
  }

  #load(pid: number, now: number): ProcessEntry | undefined {
    const facts = this.#proc.read(pid);
    if (!facts) return undefined;
    const { containerId } = facts.cgroup;
    const entry: ProcessEntry = {
      pid,
      startTime: facts.startTime,
      comm: facts.comm,
      comms: [facts.comm],
      cgroup: facts.cgroup,
      fallback: containerId
        ? this.#containerWorkload(facts.cgroup)
        : { workload: processName(facts.comm, facts.exe), workloadKind: 'Process' },
      checkedMs: now,
      kubeGeneration: -1,
      kube: undefined,
    };
    if (facts.exe) entry.exe = facts.exe;
    if (facts.uid !== undefined) {
      entry.user = this.#users.name(facts.uid, containerId ? { id: containerId, passwdPath: `${this.#procRoot}/${pid}/root/etc/passwd` } : undefined);
    }
    return entry;
  }

  /** An exited process as the kernel saw it at connection open; its start time is unknown (-1 matches no live process). */
  #fromHints(pid: number, now: number, hints: ProcessHints | undefined): ProcessEntry | undefined {
    if (!hints?.comm || hints.cgroupId === undefined) return undefined;
    const path = this.#cgroupIds.pathOf(hints.cgroupId);
    if (path === undefined) return undefined;
    this.counters.processGone++;
    this.counters.identifiedAfterExit++;
    const cgroup: CgroupIdentity = { path, ...identityOfPath(path) };
    const entry: ProcessEntry = {
      pid,
      startTime: -1,
      comm: hints.comm,
      comms: [hints.comm],
      cgroup,
      fallback: cgroup.containerId ? this.#containerWorkload(cgroup) : { workload: hints.comm, workloadKind: 'Process' },
      checkedMs: now,
      kubeGeneration: -1,
      kube: undefined,
    };
    // The process's root is gone with it: a container's passwd read earlier, else the number.
    if (hints.uid !== undefined) entry.user = this.#users.name(hints.uid, cgroup.containerId ? { id: cgroup.containerId } : undefined);
    return entry;
  }

  /** A container outside Kubernetes: its runtime name, else the short id. */
  #containerWorkload(cgroup: CgroupIdentity): { workload: string; workloadKind: WorkloadKind } {
    const id = cgroup.containerId!;
    return { workload: this.#containerNames.nameOf(id, cgroup.runtime) ?? shortContainerId(id), workloadKind: 'Container' };
  }

  #kubeOf(entry: ProcessEntry): KubeIdentity | undefined {
    const index = this.kubeIndex;
    if (!index) return undefined;
    if (entry.kubeGeneration !== index.generation) {
      const { containerId, podUid } = entry.cgroup;
      entry.kube = (containerId ? index.podByContainerId(containerId) : undefined) ?? (podUid ? index.podByUid(podUid) : undefined);
      entry.kubeGeneration = index.generation;
    }
    return entry.kube;
  }
}

function applyKube(end: Endpoint, kube: KubeIdentity): void {
  if (kube.pod) end.pod = kube.pod;
  end.namespace = kube.namespace;
  end.workload = kube.workload;
  end.workloadKind = kube.workloadKind;
  if (kube.serviceAccount) end.serviceAccount = kube.serviceAccount;
}
