// The agent's own counters, exposed through prom-client. The pipeline keeps
// plain numbers on its hot path; these collectors read them at scrape time, so
// instrumentation costs nothing per event.
import client from 'prom-client';
import type { CaptureEngine } from '../capture/engine.js';
import type { Pipeline } from '../pipeline.js';

/** `engine()` is read at scrape time: the engine starts after the registry exists. */
export function createAgentMetrics(pipeline: Pipeline, engine: () => CaptureEngine | undefined, outputDropped: () => number): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'flowscope_process_' });
  const c = pipeline.counters;
  const conns = pipeline.conns;

  new client.Counter({
    name: 'flowscope_events_total', help: 'Capture events processed, by kind.', labelNames: ['kind'], registers: [registry],
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(c.events)) this.inc({ kind }, n);
    },
  });
  new client.Counter({
    name: 'flowscope_payload_bytes_total', help: 'Payload bytes received from the kernel.', registers: [registry],
    collect() { this.reset(); this.inc(c.payloadBytes); },
  });
  new client.Counter({
    name: 'flowscope_flows_total', help: 'Flows assembled, by protocol.', labelNames: ['protocol'], registers: [registry],
    collect() {
      this.reset();
      for (const [protocol, n] of Object.entries(c.flows)) this.inc({ protocol }, n);
    },
  });
  new client.Counter({
    name: 'flowscope_decode_errors_total', help: 'Decode errors, by protocol and code.', labelNames: ['protocol', 'code'], registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of c.decodeErrors) {
        const [protocol, code] = key.split(' ');
        this.inc({ protocol, code }, n);
      }
    },
  });
  new client.Counter({
    name: 'flowscope_loss_total', help: 'Data lost or not captured, by cause (kernel, stream reassembly, record parsing, outputs).', labelNames: ['cause'], registers: [registry],
    collect() {
      this.reset();
      const capture = engine();
      if (capture) {
        for (const [cause, n] of Object.entries(capture.losses())) this.inc({ cause: `kernel_${cause}` }, n);
        for (const [reason, n] of Object.entries(capture.malformed())) this.inc({ cause: `record_${reason}` }, n);
      }
      this.inc({ cause: 'stream_gap' }, conns.counters.gaps);
      this.inc({ cause: 'stream_hold_overflow' }, conns.counters.holdOverflows);
      this.inc({ cause: 'connection_evicted' }, conns.counters.evicted);
      this.inc({ cause: 'unpaired_response' }, c.unpairedResponses);
      this.inc({ cause: 'output_dropped' }, outputDropped());
    },
  });
  new client.Counter({
    name: 'flowscope_stream_gap_bytes_total', help: 'Bytes missing from reassembled streams.', registers: [registry],
    collect() { this.reset(); this.inc(conns.counters.gapBytes); },
  });
  new client.Gauge({
    name: 'flowscope_connections_tracked', help: 'Connections tracked in user space.', registers: [registry],
    collect() { this.set(conns.size); },
  });
  new client.Gauge({
    name: 'flowscope_tls_binaries_probed', help: 'Binaries with TLS library uprobes, by outcome (attached or failed).', labelNames: ['outcome'], registers: [registry],
    collect() {
      this.reset();
      const libraries = engine()?.tlsLibraries ?? [];
      this.set({ outcome: 'attached' }, libraries.filter((l) => l.error === undefined).length);
      this.set({ outcome: 'failed' }, libraries.filter((l) => l.error !== undefined).length);
    },
  });
  return registry;
}

/** Everything `flowscope status` and /v1/status show: capture and loss counters. */
export function statusSnapshot(pipeline: Pipeline, engine: CaptureEngine | undefined, outputDropped: number): Record<string, unknown> {
  return {
    engine: engine?.name ?? 'none',
    events: pipeline.counters.events,
    payloadBytes: pipeline.counters.payloadBytes,
    flows: pipeline.counters.flows,
    connectionsTracked: pipeline.conns.size,
    conntrack: pipeline.conns.counters,
    decodeErrors: Object.fromEntries(pipeline.counters.decodeErrors),
    unpairedResponses: pipeline.counters.unpairedResponses,
    kernelLosses: engine?.losses() ?? {},
    malformedRecords: engine?.malformed() ?? {},
    tlsLibraries: engine?.tlsLibraries ?? [],
    tls: engine?.tlsStatus?.() ?? [],
    tlsProbes: engine?.tlsCounters?.() ?? null,
    outputDropped,
  };
}
