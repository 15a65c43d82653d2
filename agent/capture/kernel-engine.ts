// The libbpf capture engine: loads the eBPF object through the native loader,
// attaches syscall tracepoints and TLS probes, and drains the ring buffer in
// batches on a worker thread while the previous batch is parsed here.
import { existsSync } from 'node:fs';
import { BpfLoader } from '../../native/loader.js';
import type { Logger } from '../log.js';
import type { Pipeline } from '../pipeline.js';
import { MonotonicClock } from '../flows/clock.js';
import { LOSS_CAUSES } from './record-layout.generated.js';
import { RecordReader } from './record-reader.js';
import type { RecordingWriter } from './recording.js';
import { TlsDiscovery } from './tls-discovery.js';

export interface KernelEngineOptions {
  maxCaptureBytes: number;
  tlsProbes: boolean;
  /** Every drained batch is also appended here (flowscope record). */
  recorder?: RecordingWriter;
}

export interface TlsProbeStatus {
  path: string;
  probes: number;
  error?: string;
}

/** A drain returns once a batch has gathered (native/loader.c) or after this long: the latency bound. */
const DRAIN_TIMEOUT_MS = 50;
const DRAIN_BUFFER_BYTES = 4 << 20;
/** How often new processes are scanned for TLS libraries and dead ones collected. */
const HOUSEKEEPING_MS = 2000;

export class KernelEngine {
  readonly reader = new RecordReader();
  readonly tlsLibraries: TlsProbeStatus[] = [];
  readonly #discovery = new TlsDiscovery();
  #loader: BpfLoader | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #housekeeping: NodeJS.Timeout | undefined;
  #firstBatch: (() => void) | undefined;
  /** Loss counters read just before the loader closed, so the final status still has them. */
  #lossesAtClose: Record<string, number> = {};
  batches = 0;

  constructor(
    readonly pipeline: Pipeline,
    readonly log: Logger,
    readonly options: KernelEngineOptions,
  ) {}

  /** Loads and attaches; throws FlowscopeError naming the failed step. */
  start(): void {
    const loader = BpfLoader.open({ agentTgid: process.pid, maxCaptureBytes: this.options.maxCaptureBytes });
    this.#loader = loader;
    try {
      loader.attachSyscalls();
    } catch (err) {
      void loader.close();
      this.#loader = undefined;
      throw err;
    }
    if (this.options.tlsProbes) {
      this.#probeTls([...this.#discovery.hostLibraries(), ...this.#discovery.scanNewProcesses()]);
    }
    this.#running = true;
    this.#loop = this.#drainLoop(loader);
    this.#housekeeping = setInterval(() => this.#housekeep(), HOUSEKEEPING_MS);
    this.#housekeeping.unref();
  }

  /** Resolves after the first drained batch (attach is live and the drain works). */
  firstBatch(): Promise<void> {
    if (this.batches > 0) return Promise.resolve();
    return new Promise((resolve) => (this.#firstBatch = resolve));
  }

  /** Kernel loss counters by cause, summed over CPUs. */
  losses(): Record<string, number> {
    if (!this.#loader) return this.#lossesAtClose;
    const out: Record<string, number> = {};
    const values = this.#loader.readLosses();
    LOSS_CAUSES.forEach((cause, i) => (out[cause] = Number(values[i] ?? 0)));
    return out;
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#housekeeping) clearInterval(this.#housekeeping);
    await this.#loop;
    if (this.#loader) {
      this.#lossesAtClose = this.losses();
      await this.#loader.close();
      this.#loader = undefined;
    }
  }

  async #drainLoop(loader: BpfLoader): Promise<void> {
    const buffers = [Buffer.allocUnsafe(DRAIN_BUFFER_BYTES), Buffer.allocUnsafe(DRAIN_BUFFER_BYTES)];
    let current = 0;
    let inFlight = loader.drain(buffers[current]!, DRAIN_TIMEOUT_MS);
    while (this.#running) {
      let length: number;
      try {
        length = await inFlight;
      } catch (err) {
        this.log.error({ err }, 'ring buffer drain failed; capture stopped');
        return;
      }
      const filled = buffers[current]!;
      current ^= 1;
      // Drain the next batch on the worker thread while this one is parsed.
      if (this.#running) inFlight = loader.drain(buffers[current]!, DRAIN_TIMEOUT_MS);
      const nowMs = Date.now();
      if (length > 0) this.options.recorder?.append(filled, length, nowMs);
      this.pipeline.handleBatch(this.reader, filled, length, nowMs);
      this.batches++;
      if (this.#firstBatch) {
        this.#firstBatch();
        this.#firstBatch = undefined;
      }
    }
    await inFlight.catch(() => 0);
  }

  #probeTls(libraries: { path: string }[]): void {
    for (const lib of libraries) {
      try {
        const probes = this.#loader!.attachSsl(lib.path);
        this.tlsLibraries.push({ path: lib.path, probes });
        this.log.info({ path: lib.path, probes }, 'TLS library probed');
      } catch (err) {
        this.tlsLibraries.push({ path: lib.path, probes: 0, error: (err as Error).message });
        this.log.warn({ path: lib.path, err: (err as Error).message }, 'TLS library could not be probed');
      }
    }
  }

  /** New TLS libraries, and connections of processes that exited without close(). */
  #housekeep(): void {
    if (!this.#loader) return;
    if (this.options.tlsProbes) this.#probeTls(this.#discovery.scanNewProcesses());
    const now = MonotonicClock.nowNs();
    const dead = new Map<number, boolean>();
    const isDead = (tgid: number): boolean => {
      let d = dead.get(tgid);
      if (d === undefined) dead.set(tgid, (d = !existsSync(`/proc/${tgid}`)));
      return d;
    };
    for (const conn of [...this.pipeline.conns.connections()]) {
      if (isDead(conn.tgid)) this.pipeline.conns.close(conn, now);
    }
    for (const [tgid, fd] of this.#loader.connList()) {
      if (isDead(tgid)) this.#loader.connForget(tgid, fd);
    }
  }
}
