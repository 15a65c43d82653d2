#!/usr/bin/env node
// The kernel side of capture alone, for `BENCH_PARTS=floor npm run
// bench:overhead`: the agent's BPF programs, syscall hooks and TLS probes,
// attached and drained exactly as the agent does it (default configuration),
// with every drained batch thrown away instead of decoded. What this costs a
// server is what no work saved in user space can win back. Logs "capture
// started" like the agent, so the benchmark harness drives it the same way;
// SIGTERM stops it and it logs the records and losses it saw.
import { loadConfigOrThrow } from '../dist/agent/config/load-config.js';
import { KernelEngine } from '../dist/agent/capture/kernel-engine.js';
import { createLogger } from '../dist/agent/log.js';

const log = createLogger();
const config = await loadConfigOrThrow({});
let batches = 0;
let bytes = 0;
// The engine hands each batch to its pipeline; this one only counts. The
// housekeeping pass asks for connections to end for exited processes: none.
const discard = {
  handleBatch(_reader, _buffer, length) {
    batches++;
    bytes += length;
  },
  conns: { connections: () => [][Symbol.iterator](), close() {} },
};
const engine = new KernelEngine(discard, log, {
  maxCaptureBytes: config.capture.maxCaptureBytes,
  ringBufferBytes: config.capture.ringBufferBytes,
  tlsProbes: config.capture.tlsProbes,
});
engine.start();
await engine.firstBatch();
log.info({ engine: engine.name, tlsLibraries: engine.tlsLibraries.length }, 'capture started');

process.once('SIGTERM', async () => {
  await engine.stop();
  log.info({ batches, bytes, kernelLosses: engine.losses() }, 'stopped');
  process.exit(0);
});
