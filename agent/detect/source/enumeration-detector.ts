// ENUMERATION (BOLA, OWASP API1): one source walks many distinct values of one
// path parameter of one endpoint within a window. While the baseline learns,
// the detector records the most distinct values any one client touched per
// endpoint parameter; afterwards it fires at max(floor, factor × that peak), so
// an endpoint whose normal clients page through many ids does not alert.
import type { Detector, Finding, Observation } from '../finding.js';
import { BoundedMap } from '../../bounded-map.js';
import { RecentSet } from './recent-set.js';
import { RingCounter } from './ring-counter.js';
import { endpointName } from './source-identity.js';

export interface EnumerationConfig {
  enabled: boolean;
  windowMs: number;
  /** Distinct values of one parameter from one source within the window, at least. */
  minDistinctValues: number;
  /** …and at least this many times the learnt per-client peak. */
  baselineFactor: number;
  /** (source, endpoint, parameter) windows kept; the least recent go first. */
  maxTrackedKeys: number;
  /** Distinct values remembered per key: a threshold above it can never fire. */
  maxValuesPerKey: number;
  /** Learnt peaks kept per (destination, endpoint, parameter). */
  maxBaselineKeys: number;
}

export const defaultEnumerationConfig: EnumerationConfig = {
  enabled: true,
  windowMs: 60_000,
  minDistinctValues: 30,
  baselineFactor: 2,
  maxTrackedKeys: 4096,
  maxValuesPerKey: 256,
  maxBaselineKeys: 100_000,
};

interface Walk {
  values: RecentSet;
  requests: RingCounter;
  successes: RingCounter;
}

const BUCKETS = 12;
const MAX_VALUE_LENGTH = 128;

export class EnumerationDetector implements Detector {
  readonly name = 'enumeration';
  readonly #config: EnumerationConfig;
  readonly #walks: BoundedMap<string, Walk>;
  /** Most distinct values one client touched in a window while learning. */
  readonly #learntPeak: BoundedMap<string, number>;

  constructor(config: Partial<EnumerationConfig> = {}) {
    this.#config = { ...defaultEnumerationConfig, ...config };
    this.#walks = new BoundedMap(this.#config.maxTrackedKeys);
    this.#learntPeak = new BoundedMap(this.#config.maxBaselineKeys);
  }

  get evictedKeys(): number {
    return this.#walks.evictions + this.#learntPeak.evictions;
  }

  observe(obs: Observation): Finding[] | undefined {
    if (obs.pathParams.length === 0) return undefined;
    const { flow } = obs;
    const source = endpointName(flow.source);
    const destination = `${endpointName(flow.destination)}:${flow.destination.port}`;
    const status = flow.http.status;
    const success = flow.grpc ? flow.grpc.status === 0 : status !== undefined && status >= 200 && status < 300;
    let findings: Finding[] | undefined;
    for (let index = 0; index < obs.pathParams.length; index++) {
      const value = obs.pathParams[index]!.slice(0, MAX_VALUE_LENGTH);
      const parameter = `${destination} ${obs.endpoint} #${index}`;
      const walk = this.#walks.getOrCreate(`${source} ${parameter}`, () => this.#newWalk());
      walk.values.add(value, obs.nowMs);
      walk.requests.add(obs.nowMs);
      if (success) walk.successes.add(obs.nowMs);
      const distinct = walk.values.count(obs.nowMs);
      const peak = this.#learntPeak.peek(parameter) ?? 0;
      if (obs.learning) {
        if (distinct > peak) this.#learntPeak.set(parameter, distinct);
        continue;
      }
      const threshold = Math.max(this.#config.minDistinctValues, Math.ceil(this.#config.baselineFactor * peak));
      if (distinct < threshold) continue;
      (findings ??= []).push(this.#finding(obs, source, index, walk, distinct, threshold, peak));
    }
    return findings;
  }

  #newWalk(): Walk {
    const { windowMs, maxValuesPerKey } = this.#config;
    return {
      values: new RecentSet(windowMs, maxValuesPerKey),
      requests: new RingCounter(windowMs, BUCKETS),
      successes: new RingCounter(windowMs, BUCKETS),
    };
  }

  #finding(obs: Observation, source: string, index: number, walk: Walk, distinct: number, threshold: number, peak: number): Finding {
    const sequential = sequentialShare(walk.values.values());
    const requests = walk.requests.total(obs.nowMs);
    const successes = walk.successes.total(obs.nowMs);
    const seconds = Math.round(this.#config.windowMs / 1000);
    const walked = sequential >= 0.5 ? 'mostly sequential' : 'distinct';
    return {
      kind: 'ENUMERATION',
      severity: sequential >= 0.5 && successes > 0 ? 'HIGH' : 'MEDIUM',
      subject: `${obs.endpoint} #${index}`,
      endpoint: obs.endpoint,
      summary: `${source} requested ${distinct} ${walked} values of parameter ${index + 1} of ${obs.endpoint} in ${seconds} s (normal clients touched at most ${peak}); ${successes} of ${requests} requests succeeded`,
      details: {
        source,
        parameterIndex: String(index),
        distinctValues: String(distinct),
        threshold: String(threshold),
        learntPeak: String(peak),
        sequentialShare: sequential.toFixed(2),
        requests: String(requests),
        successes: String(successes),
        windowSeconds: String(seconds),
      },
      flow: obs.flow,
    };
  }
}

/** Share of numeric values whose predecessor was also requested: 1.0 for a walk 1,2,3,… */
export function sequentialShare(values: Iterable<string>): number {
  const numbers = new Set<number>();
  for (const v of values) {
    if (v.length > 0 && v.length <= 15 && isDigits(v)) numbers.add(Number(v));
  }
  if (numbers.size < 2) return 0;
  let withPredecessor = 0;
  for (const n of numbers) if (numbers.has(n - 1)) withPredecessor++;
  return withPredecessor / (numbers.size - 1);
}

function isDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}
