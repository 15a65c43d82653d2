import { spawn } from 'node:child_process';
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerIdentityMetrics } from '../../../agent/identity/identity-metrics.js';
import { IdentityResolver } from '../../../agent/identity/identity-resolver.js';

describe('identity metrics', () => {
  it('exposes the resolver counters at scrape time', async () => {
    const resolver = new IdentityResolver({ kubernetes: false });
    const registry = new client.Registry();
    registerIdentityMetrics(registry, resolver);
    const child = spawn('/usr/bin/sleep', ['30'], { stdio: 'ignore' });
    try {
      resolver.enricher({ ip: '127.0.0.1', port: 1, pid: child.pid!, process: 'sleep' }, true);
      resolver.enricher({ ip: '127.0.0.1', port: 1, pid: child.pid!, process: 'sleep' }, true);
    } finally {
      child.kill('SIGKILL');
    }
    const text = await registry.metrics();
    expect(text).toContain('flowscope_identity_process_cache_total{result="hit"} 1');
    expect(text).toContain('flowscope_identity_process_cache_total{result="miss"} 1');
    expect(text).toContain('flowscope_identity_processes_cached 1');
    expect(text).toContain('flowscope_identity_pid_reuses_total 0');
    // Without Kubernetes, no Kubernetes series.
    expect(text).not.toContain('flowscope_identity_k8s');
  });
});
