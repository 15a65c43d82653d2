import { describe, expect, it } from 'vitest';
import client from 'prom-client';
import { registerSinkMetrics } from '../../../agent/sinks/sink-metrics.js';
import type { SinkManager } from '../../../agent/sinks/sink-manager.js';

describe('registerSinkMetrics', () => {
  it('exposes each sink\'s counters at scrape time', async () => {
    let delivered = 10;
    const counters = (): ReturnType<SinkManager['counters']> => ({
      siem: {
        type: 'syslog', queued: 3, delivered, retries: 2, dropped: 5, droppedReasons: { queueFull: 4, rejected: 1, formatError: 0 },
        spoolBytes: 4096, connected: false,
      },
    });
    const registry = new client.Registry();
    registerSinkMetrics(registry, { counters });
    let text = await registry.metrics();
    expect(text).toContain('flowscope_sink_delivered_total{sink="siem",type="syslog"} 10');
    expect(text).toContain('flowscope_sink_queued_records{sink="siem",type="syslog"} 3');
    expect(text).toContain('flowscope_sink_spool_bytes{sink="siem",type="syslog"} 4096');
    expect(text).toContain('flowscope_sink_connected{sink="siem",type="syslog"} 0');
    expect(text).toContain('flowscope_sink_retries_total{sink="siem",type="syslog"} 2');
    expect(text).toContain('flowscope_sink_dropped_total{sink="siem",type="syslog",reason="queue_full"} 4');
    expect(text).toContain('flowscope_sink_dropped_total{sink="siem",type="syslog",reason="rejected"} 1');
    delivered = 25;
    text = await registry.metrics();
    expect(text).toContain('flowscope_sink_delivered_total{sink="siem",type="syslog"} 25');
  });
});
