// Identity counters in Prometheus form, read at scrape time (nothing per flow).
import client from 'prom-client';
import type { IdentityResolver } from './identity-resolver.js';

export function registerIdentityMetrics(registry: client.Registry, resolver: IdentityResolver): void {
  const c = resolver.counters;
  new client.Counter({
    name: 'flowscope_identity_process_cache_total', help: 'Process identity lookups, by result (hit, miss).', labelNames: ['result'], registers: [registry],
    collect() {
      this.reset();
      this.inc({ result: 'hit' }, c.cacheHits);
      this.inc({ result: 'miss' }, c.cacheMisses);
    },
  });
  new client.Counter({
    name: 'flowscope_identity_cache_evictions_total', help: 'Entries evicted from the identity caches, by cache.', labelNames: ['cache'], registers: [registry],
    collect() {
      this.reset();
      this.inc({ cache: 'process' }, c.cacheEvictions);
      this.inc({ cache: 'remote' }, c.remoteCacheEvictions);
    },
  });
  new client.Counter({
    name: 'flowscope_identity_pid_reuses_total', help: 'Cached pids found naming a different process (start time changed).', registers: [registry],
    collect() { this.reset(); this.inc(c.pidReuses); },
  });
  new client.Counter({
    name: 'flowscope_identity_process_gone_total', help: 'Processes that exited before they could be read; named from the kernel comm only.', registers: [registry],
    collect() { this.reset(); this.inc(c.processGone); },
  });
  new client.Gauge({
    name: 'flowscope_identity_processes_cached', help: 'Processes in the identity cache.', registers: [registry],
    collect() { this.set(resolver.processesCached); },
  });
  if (!resolver.kubeCounters) return;
  const kube = () => resolver.kubeCounters!;
  new client.Counter({
    name: 'flowscope_identity_k8s_watch_restarts_total', help: 'Kubernetes watches started again (server closed, error, relist).', registers: [registry],
    collect() { this.reset(); this.inc(kube().watchRestarts); },
  });
  new client.Counter({
    name: 'flowscope_identity_k8s_watch_errors_total', help: 'Failed Kubernetes lists and watches, and ERROR watch events.', registers: [registry],
    collect() { this.reset(); this.inc(kube().watchErrors); },
  });
  new client.Counter({
    name: 'flowscope_identity_k8s_objects_dropped_total', help: 'Kubernetes objects left out because a table was full or the object had no name.', registers: [registry],
    collect() { this.reset(); this.inc(kube().objectsDropped); },
  });
  new client.Gauge({
    name: 'flowscope_identity_k8s_tracked', help: 'Kubernetes objects tracked, by kind.', labelNames: ['kind'], registers: [registry],
    collect() {
      const k = kube();
      this.set({ kind: 'pod' }, k.podsTracked);
      this.set({ kind: 'service' }, k.servicesTracked);
    },
  });
}
