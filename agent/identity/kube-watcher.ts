// List+watch of the Kubernetes objects identity needs, through
// @kubernetes/client-node: this node's pods (fieldSelector spec.nodeName), and
// all services, ReplicaSets (→ Deployment) and Jobs (→ CronJob). Each resource
// lists (paged), then watches from the list's resourceVersion; a watch the
// server ends is resumed from the last version seen, a 410 Gone relists, and
// any error retries with capped exponential backoff and jitter.
//
// The client library costs ~30 MB of heap and ~70 MB of RSS once imported, so
// identity-resolver.ts imports this module only when Kubernetes is in use.
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import type { KubeIndex, RawObject } from './kube-index.js';

export interface KubeWatcherOptions {
  /** Path of a kubeconfig file; otherwise the in-cluster service account. */
  kubeconfig?: string;
  /** Only pods on this node are watched (spec.nodeName). */
  nodeName: string;
  /** Items per list page. */
  pageSize?: number;
  /** Asked of the server so watches end and resume now and then, as kubectl does. */
  watchTimeoutSeconds?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

export interface KubeWatcherCounters {
  /** Watches started again after the first (server ended one, error, or relist). */
  watchRestarts: number;
  /** Failed lists or watches, and ERROR events from the server. */
  watchErrors: number;
  relists: number;
}

interface ListPage {
  items: RawObject[];
  metadata?: { resourceVersion?: string; _continue?: string };
}

interface Resource {
  name: string;
  path: string;
  fieldSelector?: string;
  list(params: { fieldSelector?: string; limit: number; _continue?: string }): Promise<ListPage>;
  replace(items: RawObject[]): void;
  upsert(obj: RawObject): void;
  remove(obj: RawObject): void;
}

export class KubeWatcher {
  readonly counters: KubeWatcherCounters = { watchRestarts: 0, watchErrors: 0, relists: 0 };
  readonly #watches: ResourceWatch[];

  constructor(index: KubeIndex, options: KubeWatcherOptions, log?: Logger) {
    const kc = new KubeConfig();
    if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
    else kc.loadFromCluster();
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const batch = kc.makeApiClient(BatchV1Api);
    const resources: Resource[] = [
      {
        name: 'pods',
        path: '/api/v1/pods',
        fieldSelector: `spec.nodeName=${options.nodeName}`,
        list: (p) => core.listPodForAllNamespaces(p) as Promise<ListPage>,
        replace: (items) => index.replacePods(items),
        upsert: (obj) => index.upsertPod(obj),
        remove: (obj) => index.deletePod(obj),
      },
      {
        name: 'services',
        path: '/api/v1/services',
        list: (p) => core.listServiceForAllNamespaces(p) as Promise<ListPage>,
        replace: (items) => index.replaceServices(items),
        upsert: (obj) => index.upsertService(obj),
        remove: (obj) => index.deleteService(obj),
      },
      {
        name: 'replicasets',
        path: '/apis/apps/v1/replicasets',
        list: (p) => apps.listReplicaSetForAllNamespaces(p) as Promise<ListPage>,
        replace: (items) => index.replaceReplicaSets(items),
        upsert: (obj) => index.upsertReplicaSet(obj),
        remove: (obj) => index.deleteReplicaSet(obj),
      },
      {
        name: 'jobs',
        path: '/apis/batch/v1/jobs',
        list: (p) => batch.listJobForAllNamespaces(p) as Promise<ListPage>,
        replace: (items) => index.replaceJobs(items),
        upsert: (obj) => index.upsertJob(obj),
        remove: (obj) => index.deleteJob(obj),
      },
    ];
    const settings = {
      pageSize: options.pageSize ?? 500,
      watchTimeoutSeconds: options.watchTimeoutSeconds ?? 300,
      backoffMinMs: options.backoffMinMs ?? 500,
      backoffMaxMs: options.backoffMaxMs ?? 30_000,
    };
    this.#watches = resources.map((r) => new ResourceWatch(new Watch(kc), r, settings, this.counters, log));
  }

  start(): void {
    for (const w of this.#watches) w.start();
  }

  /** Resolves once every resource has been listed at least once. */
  synced(): Promise<void> {
    return Promise.all(this.#watches.map((w) => w.listed)).then(() => undefined);
  }

  stop(): void {
    for (const w of this.#watches) w.stop();
  }
}

interface WatchSettings {
  pageSize: number;
  watchTimeoutSeconds: number;
  backoffMinMs: number;
  backoffMaxMs: number;
}

class ResourceWatch {
  readonly listed: Promise<void>;
  #markListed!: () => void;
  #resourceVersion = '';
  #stopped = true;
  #started = false;
  #controller: AbortController | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #backoffMs: number;
  /** Each attempt's own number, so callbacks of an abandoned watch are ignored. */
  #attempt = 0;
  #watchStartedMs = 0;
  /** Logged once when failures start and once when they end, not on every retry. */
  #failing = false;
  #eventsThisWatch = 0;

  constructor(
    readonly watch: Watch,
    readonly resource: Resource,
    readonly settings: WatchSettings,
    readonly counters: KubeWatcherCounters,
    readonly log: Logger | undefined,
  ) {
    this.#backoffMs = settings.backoffMinMs;
    this.listed = new Promise((resolve) => (this.#markListed = resolve));
  }

  start(): void {
    this.#stopped = false;
    void this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    this.#attempt++;
    clearTimeout(this.#retryTimer);
    this.#controller?.abort();
    this.#controller = undefined;
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const attempt = ++this.#attempt;
    if (this.#started) this.counters.watchRestarts++;
    this.#started = true;
    try {
      if (!this.#resourceVersion) await this.#list(attempt);
      if (attempt !== this.#attempt) return;
      const params: Record<string, string | number | boolean> = {
        resourceVersion: this.#resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: this.settings.watchTimeoutSeconds,
      };
      if (this.resource.fieldSelector) params.fieldSelector = this.resource.fieldSelector;
      this.#watchStartedMs = Date.now();
      this.#eventsThisWatch = 0;
      const controller = await this.watch.watch(
        this.resource.path,
        params,
        (type: string, obj: unknown) => {
          if (attempt === this.#attempt) this.#event(type, obj as RawObject & { code?: number; metadata?: { resourceVersion?: string } });
        },
        (err: unknown) => {
          if (attempt === this.#attempt) this.#ended(err);
        },
      );
      if (attempt === this.#attempt) this.#controller = controller;
      else controller.abort();
    } catch (err) {
      if (attempt === this.#attempt) this.#ended(err);
    }
  }

  async #list(attempt: number): Promise<void> {
    const items: RawObject[] = [];
    let next: string | undefined;
    let version = '';
    do {
      const page = await this.resource.list({
        limit: this.settings.pageSize,
        ...(this.resource.fieldSelector ? { fieldSelector: this.resource.fieldSelector } : {}),
        ...(next ? { _continue: next } : {}),
      });
      if (attempt !== this.#attempt) return;
      items.push(...(page.items ?? []));
      version = page.metadata?.resourceVersion ?? '';
      next = page.metadata?._continue || undefined;
    } while (next);
    this.resource.replace(items);
    this.#resourceVersion = version;
    this.counters.relists++;
    this.#recovered();
    this.#markListed();
  }

  #event(type: string, obj: RawObject & { code?: number; metadata?: { resourceVersion?: string } }): void {
    if (!obj || typeof obj !== 'object') return;
    this.#eventsThisWatch++;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        this.resource.upsert(obj);
        break;
      case 'DELETED':
        this.resource.remove(obj);
        break;
      case 'BOOKMARK':
        break;
      case 'ERROR':
        this.counters.watchErrors++;
        // 410 Gone: our version is older than the server keeps; start over with a list.
        if (obj.code === 410) this.#resourceVersion = '';
        return;
      default:
        return;
    }
    // A healthy stream resets the backoff.
    this.#backoffMs = this.settings.backoffMinMs;
    this.#recovered();
    const version = obj.metadata?.resourceVersion;
    if (version) this.#resourceVersion = version;
  }

  #recovered(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.log?.info({ resource: this.resource.name }, 'kubernetes list/watch recovered');
  }

  #ended(err: unknown): void {
    this.#controller = undefined;
    if (this.#stopped) return;
    if (!err) {
      // The server closed the watch (timeoutSeconds, or after a 410): resume at once,
      // unless it closes every watch straight away, which would spin.
      if (this.#eventsThisWatch > 0 || Date.now() - this.#watchStartedMs >= 1000) {
        void this.#connect();
        return;
      }
    } else {
      this.counters.watchErrors++;
      const status = (err as { statusCode?: number; code?: number }).statusCode ?? (err as { code?: number }).code;
      if (status === 410) this.#resourceVersion = '';
      if (!this.#failing) {
        this.#failing = true;
        this.log?.warn({ resource: this.resource.name, err: (err as Error).message, status }, 'kubernetes list/watch failing; retrying with backoff');
      }
    }
    const delay = this.#backoffMs * (0.75 + Math.random() * 0.5);
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.settings.backoffMaxMs);
    this.#retryTimer = setTimeout(() => void this.#connect(), delay);
    this.#retryTimer.unref();
  }
}
