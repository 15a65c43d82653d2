// SCAN (T1046): one source tries many distinct paths (mostly answered "not
// found") or many distinct ports within a short window. Connection attempts
// that were refused never become flows; `observeConnection` takes connection
// records so ports reached without an HTTP exchange count too. Some clients
// legitimately reach many ports (metrics scrapers), so while the baseline
// learns, each source's peak of distinct ports is recorded and the port rule
// fires at max(minDistinctPorts, portBaselineFactor × that peak).
import type { ConnectionRecord } from '../../schema/flow.js';
import type { Detector, Finding, Observation } from '../finding.js';
import { BoundedMap } from '../../bounded-map.js';
import { RecentSet } from './recent-set.js';
import { RingCounter } from './ring-counter.js';
import { endpointName } from './source-identity.js';

export interface ScanConfig {
  enabled: boolean;
  windowMs: number;
  /** Distinct templated endpoints within the window… */
  minDistinctPaths: number;
  /** …of which at least this share were answered with a failure status. */
  minFailureRatio: number;
  /** Statuses that count as "not there"; a request with no response counts too. */
  failureStatuses: number[];
  /** Distinct destination ports within the window… */
  minDistinctPorts: number;
  /** …and at least this many times the source's learnt peak. */
  portBaselineFactor: number;
  maxSources: number;
  /** Distinct paths / ports remembered per source (the oldest go first). */
  maxValuesPerSource: number;
}

export const defaultScanConfig: ScanConfig = {
  enabled: true,
  windowMs: 30_000,
  minDistinctPaths: 20,
  minFailureRatio: 0.7,
  failureStatuses: [400, 404, 405],
  minDistinctPorts: 10,
  portBaselineFactor: 2,
  maxSources: 10_000,
  maxValuesPerSource: 256,
};

interface SourceState {
  paths: RecentSet;
  ports: RecentSet;
  requests: RingCounter;
  failures: RingCounter;
}

const MAX_PATH_KEY = 256;
const BUCKETS = 10;
const GRPC_UNIMPLEMENTED = 12;

export class ScanDetector implements Detector {
  readonly name = 'scan';
  readonly #config: ScanConfig;
  readonly #failureStatuses: Set<number>;
  readonly #sources: BoundedMap<string, SourceState>;
  readonly #learntPortPeak: BoundedMap<string, number>;
  /** The baseline's mode as of the latest flow: connection records carry none. */
  #learning = false;
  /** The source touched last and its state, which is therefore already the most recent in #sources. */
  #lastSource: string | undefined;
  #lastState: SourceState | undefined;
  /** The last path key and what it was made of: consecutive flows mostly repeat it. */
  #lastPath = { destination: '', port: -1, endpoint: '', key: '' };

  constructor(config: Partial<ScanConfig> = {}) {
    this.#config = { ...defaultScanConfig, ...config };
    this.#failureStatuses = new Set(this.#config.failureStatuses);
    this.#sources = new BoundedMap(this.#config.maxSources);
    this.#learntPortPeak = new BoundedMap(this.#config.maxSources);
  }

  /** Sources forgotten to stay under `maxSources`. */
  get evictedSources(): number {
    return this.#sources.evictions + this.#learntPortPeak.evictions;
  }

  observe(obs: Observation): Finding[] | undefined {
    const { flow } = obs;
    const now = obs.nowMs;
    this.#learning = obs.learning;
    const source = endpointName(flow.source);
    const state = this.#state(source);
    // Templated, so a client looking up many ids (cache misses: /keys/{hash} → 404) is one path;
    // walking ids is ENUMERATION's business.
    state.paths.add(this.#pathKey(endpointName(flow.destination), flow.destination.port, obs.endpoint), now);
    state.ports.add(String(flow.destination.port), now);
    state.requests.add(now);
    if (this.#isFailure(obs.flow)) state.failures.add(now);

    const findings: Finding[] = [];
    const pathFinding = this.#pathScan(source, state, obs);
    if (pathFinding) findings.push(pathFinding);
    const portFinding = this.#portScan(source, state, now, obs);
    if (portFinding) findings.push(portFinding);
    return findings.length > 0 ? findings : undefined;
  }

  /** A connection ended; a port reached (or refused) counts even without a flow. */
  observeConnection(record: ConnectionRecord, nowMs: number): void {
    const source = endpointName(record.source);
    const state = this.#state(source);
    state.ports.add(String(record.destination.port), nowMs);
    if (this.#learning) this.#learnPorts(source, state, nowMs);
  }

  #learnPorts(source: string, state: SourceState, now: number): void {
    const distinct = state.ports.count(now);
    if (distinct > (this.#learntPortPeak.peek(source) ?? 0)) this.#learntPortPeak.set(source, distinct);
  }

  /** "Not there": a failure status, no response at all, or gRPC UNIMPLEMENTED. */
  #isFailure(flow: Observation['flow']): boolean {
    if (flow.grpc) return flow.grpc.status === GRPC_UNIMPLEMENTED;
    const status = flow.http.status;
    return status === undefined || this.#failureStatuses.has(status);
  }

  #state(source: string): SourceState {
    // Touching the most recent entry again changes nothing: skip the map's reordering.
    if (source === this.#lastSource && this.#sources.peek(source) === this.#lastState) return this.#lastState!;
    const { windowMs, maxValuesPerSource } = this.#config;
    const state = this.#sources.getOrCreate(source, () => ({
      paths: new RecentSet(windowMs, maxValuesPerSource),
      ports: new RecentSet(windowMs, maxValuesPerSource),
      requests: new RingCounter(windowMs, BUCKETS),
      failures: new RingCounter(windowMs, BUCKETS),
    }));
    this.#lastSource = source;
    this.#lastState = state;
    return state;
  }

  /** `destination:port endpoint`, the same string object while consecutive flows repeat it (cheap to look up again). */
  #pathKey(destination: string, port: number, endpoint: string): string {
    const last = this.#lastPath;
    if (endpoint === last.endpoint && port === last.port && destination === last.destination) return last.key;
    const key = `${destination}:${port} ${endpoint.slice(0, MAX_PATH_KEY)}`;
    this.#lastPath = { destination, port, endpoint, key };
    return key;
  }

  #pathScan(source: string, state: SourceState, obs: Observation): Finding | undefined {
    const now = obs.nowMs;
    const distinct = state.paths.count(now);
    if (distinct < this.#config.minDistinctPaths) return undefined;
    const requests = state.requests.total(now);
    const failures = state.failures.total(now);
    const ratio = requests > 0 ? failures / requests : 0;
    if (ratio < this.#config.minFailureRatio) return undefined;
    const seconds = Math.round(this.#config.windowMs / 1000);
    return {
      kind: 'SCAN',
      severity: 'MEDIUM',
      subject: 'paths',
      summary: `${source} requested ${distinct} distinct paths in ${seconds} s and ${Math.round(ratio * 100)}% of its requests failed (not found or rejected)`,
      mitreTechnique: 'T1046',
      details: {
        source,
        distinctPaths: String(distinct),
        requests: String(requests),
        failures: String(failures),
        failureRatio: ratio.toFixed(2),
        windowSeconds: String(seconds),
        threshold: `>= ${this.#config.minDistinctPaths} paths, >= ${Math.round(this.#config.minFailureRatio * 100)}% failures`,
      },
      flow: obs.flow,
    };
  }

  #portScan(source: string, state: SourceState, now: number, obs: Observation): Finding | undefined {
    if (this.#learning) {
      this.#learnPorts(source, state, now);
      return undefined;
    }
    const distinct = state.ports.count(now);
    const peak = this.#learntPortPeak.peek(source) ?? 0;
    const threshold = Math.max(this.#config.minDistinctPorts, Math.ceil(this.#config.portBaselineFactor * peak));
    if (distinct < threshold) return undefined;
    const seconds = Math.round(this.#config.windowMs / 1000);
    const sample = [...state.ports.values()].slice(-8).join(',');
    return {
      kind: 'SCAN',
      severity: 'MEDIUM',
      subject: 'ports',
      summary: `${source} reached ${distinct} distinct destination ports in ${seconds} s (baseline peak ${peak})`,
      mitreTechnique: 'T1046',
      details: {
        source,
        distinctPorts: String(distinct),
        recentPorts: sample,
        learntPeak: String(peak),
        windowSeconds: String(seconds),
        threshold: String(threshold),
      },
      flow: obs.flow,
    };
  }
}
