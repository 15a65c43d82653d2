// What the agent needs from a capture engine (libbpf, bpftrace): start it,
// know when capture is live, read its loss counters, stop it.
import type { TlsProbeCounters, TlsProbeStatus, TlsProcessStatus } from './kernel-engine.js';
export interface CaptureEngine {
  readonly name: 'libbpf' | 'bpftrace';
  /** Loads and attaches; throws FlowscopeError naming what failed. */
  start(): void;
  /** Resolves once capture is live. */
  firstBatch(): Promise<void>;
  /**
   * Ends capture: resolves once the last batch is handled, with what the
   * kernel holds still in place, for a caller with work to do before stop().
   */
  stopCapture(): Promise<void>;
  /** Ends capture (if stopCapture has not) and releases what the kernel holds. */
  stop(): Promise<void>;
  /** Batches handed to the pipeline so far (readiness). */
  readonly batches: number;
  /** Events lost before user space saw them, by cause. */
  losses(): Record<string, number>;
  /** Records user space could not parse, by reason. */
  malformed(): Record<string, number>;
  /** TLS libraries probed (libbpf engine). */
  readonly tlsLibraries?: readonly TlsProbeStatus[];
  /** Per process: which TLS library, whether plaintext capture is active, why not (libbpf engine). */
  tlsStatus?(): TlsProcessStatus[];
  tlsCounters?(): TlsProbeCounters;
}
