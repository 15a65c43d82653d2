// The libbpf capture engine: loads the eBPF object through the native loader,
// attaches syscall tracepoints and TLS probes, and drains the ring buffer in
// batches on a worker thread while the previous batch is parsed here.
// TLS binaries (tls-discovery.ts) are probed once per file, when a process is
// seen using one (at exec, or by the /proc scan every 2 s), detached when the
// last such process exits, up to maxTlsBinaries files at once.
import { existsSync } from 'node:fs';
import { BpfLoader } from '../../native/loader.js';
import type { Logger } from '../log.js';
import type { Pipeline } from '../pipeline.js';
import { MonotonicClock } from '../flows/clock.js';
import { ExitedProcesses } from './exited-processes.js';
import { DATA, FS_MAX_CHUNK, LOSS_CAUSES } from './record-layout.generated.js';
import { RecordReader } from './record-reader.js';
import type { CaptureEngine } from './engine.js';
import type { RecordingWriter } from './recording.js';
import type { TlsLibraryKind } from './tls-binaries.js';
import { TlsDiscovery, type ScanResult, type TlsFile } from './tls-discovery.js';

export interface KernelEngineOptions {
  maxCaptureBytes: number;
  /** Kernel ring buffer size (BpfLoaderOptions.ringBufferBytes); default 4 MiB. */
  ringBufferBytes?: number;
  tlsProbes: boolean;
  /** Binaries (files) probed at once, at most; more are reported as "cap reached". Default 64. */
  maxTlsBinaries?: number;
  /** Every drained batch is also appended here (flowscope record). */
  recorder?: RecordingWriter;
}

export interface TlsProbeStatus {
  path: string;
  probes: number;
  error?: string;
}

/** One process's use of one TLS implementation, as `flowscope tls` and /v1/status show it. */
export interface TlsProcessStatus {
  pid: number;
  comm: string;
  exe: string;
  library: TlsLibraryKind;
  /** The file as the process sees it. */
  path: string;
  version?: string;
  /** Plaintext capture is live for this file. */
  active: boolean;
  /** Why not, when not active: stripped, unsupported Go version, cap reached, attach failed: ERRNO ... */
  reason?: string;
}

export interface TlsProbeCounters {
  /** Files probed right now. */
  probedBinaries: number;
  maxProbedBinaries: number;
  /** Files not probed because the cap was reached (counted each time one is refused). */
  capRefused: number;
  attachFailures: number;
  /** Probes removed because the last process using the file exited. */
  detached: number;
}

interface ProbedFile {
  file: TlsFile;
  probes: number;
  /** Host libraries stay probed with no user, for processes started later. */
  permanent: boolean;
  error?: string;
}

export const DEFAULT_MAX_TLS_BINARIES = 64;
/** A drain returns once a batch has gathered (native/loader.c) or after this long: the latency bound. */
const DRAIN_TIMEOUT_MS = 50;
const DRAIN_BUFFER_BYTES = 4 << 20;
/**
 * A drain stops short of the ring buffer's end only when the next record would
 * not fit its buffer (native/loader.c keeps that record for the next call). A
 * batch shorter than the buffer by more than the largest record (DATA with a
 * full chunk) therefore emptied the ring buffer.
 */
const RING_EMPTIED_BELOW = DRAIN_BUFFER_BYTES - DATA.size - FS_MAX_CHUNK - 64;
/** How often new processes are scanned for TLS libraries and dead ones collected. */
const HOUSEKEEPING_MS = 2000;

/** One row of `flowscope tls`: a process, the TLS implementation found in it, and its capture state. */
export function tlsStatusRow(
  proc: { pid: number; comm: string; exe: string },
  file: TlsFile,
  active: boolean,
  reason: string | undefined,
): TlsProcessStatus {
  return {
    pid: proc.pid,
    comm: proc.comm,
    exe: proc.exe,
    library: file.kind,
    // Files inside containers are reached through /proc/PID/root: show the path the process sees.
    path: file.path.replace(/^\/proc\/\d+\/root(?=\/)/, ''),
    ...(file.version ? { version: file.version } : {}),
    active,
    ...(reason ? { reason } : {}),
  };
}

export class KernelEngine implements CaptureEngine {
  readonly name = 'libbpf';
  readonly reader = new RecordReader();
  readonly #discovery = new TlsDiscovery();
  /** Every TLS file an attach was tried on, by dev:inode, while it is in use. */
  readonly #probed = new Map<string, ProbedFile>();
  readonly #tlsCounters: TlsProbeCounters;
  #loader: BpfLoader | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #housekeeping: NodeJS.Timeout | undefined;
  #firstBatch: (() => void) | undefined;
  readonly #exited = new ExitedProcesses();
  /** Loss counters read just before the loader closed, so the final status still has them. */
  #lossesAtClose: Record<string, number> = {};
  batches = 0;

  constructor(
    readonly pipeline: Pipeline,
    readonly log: Logger,
    readonly options: KernelEngineOptions,
  ) {
    this.#tlsCounters = {
      probedBinaries: 0,
      maxProbedBinaries: options.maxTlsBinaries ?? DEFAULT_MAX_TLS_BINARIES,
      capRefused: 0,
      attachFailures: 0,
      detached: 0,
    };
  }

  /** Loads and attaches; throws FlowscopeError naming the failed step. */
  start(): void {
    const loader = BpfLoader.open({ agentTgid: process.pid, maxCaptureBytes: this.options.maxCaptureBytes, ringBufferBytes: this.options.ringBufferBytes });
    this.#loader = loader;
    try {
      loader.attachSyscalls();
    } catch (err) {
      void loader.close();
      this.#loader = undefined;
      throw err;
    }
    if (this.options.tlsProbes) {
      for (const lib of this.#discovery.hostLibraries()) this.#probeTls(lib, true);
      this.#rescanTls();
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
  malformed(): Record<string, number> {
    return { ...this.reader.stats.malformed };
  }

  losses(): Record<string, number> {
    if (!this.#loader) return this.#lossesAtClose;
    const out: Record<string, number> = {};
    const values = this.#loader.readLosses();
    LOSS_CAUSES.forEach((cause, i) => (out[cause] = Number(values[i] ?? 0)));
    return out;
  }

  async stopCapture(): Promise<void> {
    this.#running = false;
    if (this.#housekeeping) clearInterval(this.#housekeeping);
    await this.#loop;
  }

  /** Detaching takes the kernel ~0.1 s per TLS probe; the loader does it on a worker thread. */
  async stop(): Promise<void> {
    await this.stopCapture();
    const loader = this.#loader;
    if (loader) {
      this.#lossesAtClose = this.losses();
      this.#loader = undefined;
      await loader.close();
    }
  }

  async #drainLoop(loader: BpfLoader): Promise<void> {
    const buffers = [Buffer.allocUnsafe(DRAIN_BUFFER_BYTES), Buffer.allocUnsafe(DRAIN_BUFFER_BYTES)];
    let current = 0;
    let inFlight = loader.drain(buffers[current]!, DRAIN_TIMEOUT_MS);
    let inFlightDrain = this.#exited.drainStarted();
    while (this.#running) {
      let length: number;
      try {
        length = await inFlight;
      } catch (err) {
        this.log.error({ err }, 'ring buffer drain failed; capture stopped');
        return;
      }
      const filled = buffers[current]!;
      const filledDrain = inFlightDrain;
      current ^= 1;
      // Drain the next batch on the worker thread while this one is parsed.
      if (this.#running) {
        inFlight = loader.drain(buffers[current]!, DRAIN_TIMEOUT_MS);
        inFlightDrain = this.#exited.drainStarted();
      }
      const nowMs = Date.now();
      if (length > 0) this.options.recorder?.append(filled, length, nowMs);
      this.pipeline.handleBatch(this.reader, filled, length, nowMs);
      this.#exited.batchHandled(filledDrain, length < RING_EMPTIED_BELOW);
      if (this.options.tlsProbes) this.#probeExecs(loader);
      this.batches++;
      if (this.#firstBatch) {
        this.#firstBatch();
        this.#firstBatch = undefined;
      }
    }
    await inFlight.catch(() => 0);
  }

  /** Probe attach results by file (path, probe count, error), for metrics and status. */
  get tlsLibraries(): TlsProbeStatus[] {
    return [...this.#probed.values()].map((p) => ({ path: p.file.path, probes: p.probes, ...(p.error ? { error: p.error } : {}) }));
  }

  /** Per process and TLS implementation: what was found and whether plaintext capture is live. */
  tlsStatus(): TlsProcessStatus[] {
    const rows: TlsProcessStatus[] = [];
    for (const proc of this.#discovery.processes()) {
      for (const fileId of proc.files) {
        const file = this.#discovery.file(fileId);
        if (!file) continue;
        const probed = this.#probed.get(fileId);
        const active = probed !== undefined && probed.probes > 0;
        let reason: string | undefined;
        if (!this.options.tlsProbes) reason = 'TLS probes turned off (--no-tls-probes)';
        else if (file.unprobeable) reason = file.unprobeable;
        else if (!active) reason = probed?.error ?? 'not probed yet';
        rows.push(tlsStatusRow(proc, file, active, reason));
      }
    }
    return rows.sort((a, b) => a.pid - b.pid || a.path.localeCompare(b.path));
  }

  tlsCounters(): TlsProbeCounters {
    return { ...this.#tlsCounters, probedBinaries: [...this.#probed.values()].filter((p) => p.probes > 0).length };
  }

  #probeTls(file: TlsFile, permanent: boolean): void {
    const known = this.#probed.get(file.fileId);
    if (known?.probes) {
      known.permanent ||= permanent;
      return;
    }
    if (file.unprobeable) return;
    if (this.tlsCounters().probedBinaries >= this.#tlsCounters.maxProbedBinaries) {
      this.#tlsCounters.capRefused++;
      const error = `cap reached (${this.#tlsCounters.maxProbedBinaries} probed binaries)`;
      this.#probed.set(file.fileId, { file, probes: 0, permanent, error });
      this.log.warn({ path: file.path, kind: file.kind }, 'TLS binary not probed: cap reached');
      return;
    }
    try {
      const probes = file.go ? this.#loader!.attachGoTls(file.path, file.go) : this.#loader!.attachSsl(file.path, file.sslCore);
      this.#probed.set(file.fileId, { file, probes, permanent });
      const at = file.go ? 'crypto/tls' : file.sslCore ? 'internal read/write functions' : 'SSL_read/SSL_write exports';
      this.log.info({ path: file.path, kind: file.kind, version: file.version, probes, at }, 'TLS binary probed');
    } catch (err) {
      this.#tlsCounters.attachFailures++;
      const error = `attach failed: ${(err as Error).message}`;
      this.#probed.set(file.fileId, { file, probes: 0, permanent, error });
      this.log.warn({ path: file.path, kind: file.kind, err: (err as Error).message }, 'TLS binary could not be probed');
    }
  }

  /** Processes that just exec'd: probe their TLS binaries now rather than at the next scan. */
  #probeExecs(loader: BpfLoader): void {
    let pids: number[];
    try {
      pids = loader.execPids();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'reading exec events failed');
      return;
    }
    if (pids.length > 0) this.#applyScan(this.#discovery.scanPids(pids));
  }

  /** Probes files new processes use; detaches files no process uses any more. */
  #rescanTls(): void {
    this.#applyScan(this.#discovery.scan());
  }

  #applyScan({ newlyUsed, unused }: ScanResult): void {
    for (const file of unused) {
      const probed = this.#probed.get(file.fileId);
      if (!probed || probed.permanent) continue;
      this.#probed.delete(file.fileId);
      if (probed.probes === 0) continue;
      try {
        this.#loader!.detachSsl(probed.file.path);
        this.#tlsCounters.detached++;
        this.log.info({ path: probed.file.path, kind: probed.file.kind }, 'TLS probes detached: last user exited');
      } catch (err) {
        this.log.warn({ path: probed.file.path, err: (err as Error).message }, 'TLS probes could not be detached');
      }
    }
    // Retry files refused for the cap once room has been made.
    for (const [fileId, probed] of this.#probed) {
      if (probed.probes === 0 && probed.error?.startsWith('cap reached') && this.#discovery.users(fileId) > 0) {
        this.#probed.delete(fileId);
        newlyUsed.push(probed.file);
      }
    }
    for (const file of newlyUsed) this.#probeTls(file, false);
  }

  /** New TLS libraries, and connections of processes that exited without close(). */
  #housekeep(): void {
    if (!this.#loader) return;
    if (this.options.tlsProbes) this.#rescanTls();
    const now = MonotonicClock.nowNs();
    const dead = new Map<number, boolean>();
    const isDead = (tgid: number): boolean => {
      let d = dead.get(tgid);
      if (d === undefined) dead.set(tgid, (d = !existsSync(`/proc/${tgid}`)));
      return d;
    };
    const conns = [...this.pipeline.conns.connections()];
    const ended = this.#exited.sweep(conns.map((c) => c.tgid), isDead);
    for (const conn of conns) {
      if (ended.has(conn.tgid)) this.pipeline.conns.close(conn, now);
    }
    // The kernel's entries can go at once: a process that is gone makes no more records.
    for (const [tgid, fd] of this.#loader.connList()) {
      if (isDead(tgid)) this.#loader.connForget(tgid, fd);
    }
  }
}
