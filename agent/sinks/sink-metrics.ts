// Sink counters as Prometheus metrics, read at scrape time from the plain
// counters each sink keeps (nothing is done per record).
import client from 'prom-client';
import type { SinkManager } from './sink-manager.js';

export function registerSinkMetrics(registry: client.Registry, sinks: Pick<SinkManager, 'counters'>): void {
  const labels = ['sink', 'type'];
  const each = (fn: (name: string, type: string, c: ReturnType<SinkManager['counters']>[string]) => void): void => {
    for (const [name, c] of Object.entries(sinks.counters())) fn(name, c.type, c);
  };
  new client.Gauge({
    name: 'flowscope_sink_queued_records', help: 'Records waiting for delivery, per sink (disk spool and memory).', labelNames: labels, registers: [registry],
    collect() { this.reset(); each((sink, type, c) => this.set({ sink, type }, c.queued)); },
  });
  new client.Gauge({
    name: 'flowscope_sink_spool_bytes', help: 'Bytes used by the sink\'s disk spool.', labelNames: labels, registers: [registry],
    collect() { this.reset(); each((sink, type, c) => this.set({ sink, type }, c.spoolBytes)); },
  });
  new client.Gauge({
    name: 'flowscope_sink_connected', help: '1 when the sink\'s receiver took the last batch (or the connection is open).', labelNames: labels, registers: [registry],
    collect() { this.reset(); each((sink, type, c) => this.set({ sink, type }, c.connected ? 1 : 0)); },
  });
  new client.Counter({
    name: 'flowscope_sink_delivered_total', help: 'Records delivered, per sink.', labelNames: labels, registers: [registry],
    collect() { this.reset(); each((sink, type, c) => this.inc({ sink, type }, c.delivered)); },
  });
  new client.Counter({
    name: 'flowscope_sink_retries_total', help: 'Batches sent again after a failure, per sink.', labelNames: labels, registers: [registry],
    collect() { this.reset(); each((sink, type, c) => this.inc({ sink, type }, c.retries)); },
  });
  new client.Counter({
    name: 'flowscope_sink_dropped_total', help: 'Records dropped, per sink and reason (queue_full, rejected, format_error).', labelNames: [...labels, 'reason'], registers: [registry],
    collect() {
      this.reset();
      each((sink, type, c) => {
        this.inc({ sink, type, reason: 'queue_full' }, c.droppedReasons.queueFull);
        this.inc({ sink, type, reason: 'rejected' }, c.droppedReasons.rejected);
        this.inc({ sink, type, reason: 'format_error' }, c.droppedReasons.formatError);
      });
    },
  });
}
