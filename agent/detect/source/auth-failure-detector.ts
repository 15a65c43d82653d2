// AUTH_FAILURE_BURST (T1110): a source's 401/403 (gRPC UNAUTHENTICATED /
// PERMISSION_DENIED) count over the last window far above its own baseline.
// While learning, each source's peak per-window failure count is recorded;
// afterwards the detector fires at max(absolute floor, factor × that peak).
import type { Detector, Finding, Observation } from '../finding.js';
import { BoundedMap } from '../../bounded-map.js';
import { RingCounter } from './ring-counter.js';
import { endpointName, isAuthFailure } from './source-identity.js';

export interface AuthFailureConfig {
  enabled: boolean;
  windowMs: number;
  /** Failures per window below this never fire, whatever the baseline. */
  minFailures: number;
  /** Fire at this many times the source's learnt peak per window. */
  baselineFactor: number;
  maxSources: number;
}

export const defaultAuthFailureConfig: AuthFailureConfig = {
  enabled: true,
  windowMs: 60_000,
  minFailures: 10,
  baselineFactor: 5,
  maxSources: 10_000,
};

const BUCKETS = 12;

export class AuthFailureDetector implements Detector {
  readonly name = 'auth-failure-burst';
  readonly #config: AuthFailureConfig;
  readonly #failures: BoundedMap<string, RingCounter>;
  readonly #learntPeak: BoundedMap<string, number>;

  constructor(config: Partial<AuthFailureConfig> = {}) {
    this.#config = { ...defaultAuthFailureConfig, ...config };
    this.#failures = new BoundedMap(this.#config.maxSources);
    this.#learntPeak = new BoundedMap(this.#config.maxSources);
  }

  get evictedSources(): number {
    return this.#failures.evictions + this.#learntPeak.evictions;
  }

  observe(obs: Observation): Finding[] | undefined {
    if (!isAuthFailure(obs.flow)) return undefined;
    const source = endpointName(obs.flow.source);
    const counter = this.#failures.getOrCreate(source, () => new RingCounter(this.#config.windowMs, BUCKETS));
    counter.add(obs.nowMs);
    const failures = counter.total(obs.nowMs);
    const peak = this.#learntPeak.peek(source) ?? 0;
    if (obs.learning) {
      if (failures > peak) this.#learntPeak.set(source, failures);
      return undefined;
    }
    const threshold = Math.max(this.#config.minFailures, Math.ceil(this.#config.baselineFactor * peak));
    if (failures < threshold) return undefined;
    const seconds = Math.round(this.#config.windowMs / 1000);
    const answer = obs.flow.grpc?.status !== undefined && obs.flow.grpc.status !== 0
      ? `gRPC status ${obs.flow.grpc.status}` : `HTTP ${obs.flow.http.status}`;
    return [{
      kind: 'AUTH_FAILURE_BURST',
      severity: failures >= threshold * 5 ? 'HIGH' : 'MEDIUM',
      subject: 'auth-failures',
      endpoint: obs.endpoint,
      summary: `${source} got ${failures} authentication/authorization failures in ${seconds} s (baseline peak ${peak}, threshold ${threshold}); latest ${answer} from ${obs.endpoint}`,
      mitreTechnique: 'T1110',
      details: {
        source,
        failures: String(failures),
        learntPeak: String(peak),
        threshold: String(threshold),
        windowSeconds: String(seconds),
        latest: answer,
      },
      flow: obs.flow,
    }];
  }
}
