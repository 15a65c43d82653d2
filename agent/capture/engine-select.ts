// Which capture engine runs: libbpf (the compiled object) when it loads,
// otherwise the bpftrace fallback, with the reason logged.
import type { Logger } from 'pino';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import { bpftraceUnavailable } from './bpftrace-engine.js';
import type { CaptureEngine } from './engine.js';

export type EngineChoice = 'auto' | 'libbpf' | 'bpftrace';

/** Starts the chosen engine; in `auto`, falls back to bpftrace when libbpf cannot load. */
export function startEngine(
  choice: EngineChoice,
  make: { libbpf: () => CaptureEngine; bpftrace: () => CaptureEngine },
  log: Logger,
): CaptureEngine {
  if (choice === 'bpftrace') return started(make.bpftrace());
  try {
    return started(make.libbpf());
  } catch (err) {
    if (choice === 'libbpf') throw err;
    const missing = bpftraceUnavailable();
    if (missing) {
      throw new FlowscopeError(ErrorCodes.BPFTRACE, `the libbpf engine could not load (${(err as Error).message}) and the bpftrace fallback is unavailable: ${missing}`, 'run flowscope doctor');
    }
    log.warn({ reason: (err as Error).message }, 'libbpf engine could not load; using the bpftrace engine (connections and HTTP/1 message heads only)');
    return started(make.bpftrace());
  }
}

function started(engine: CaptureEngine): CaptureEngine {
  engine.start();
  return engine;
}
