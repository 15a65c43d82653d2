// The config file's shape, defaults and limits, declared once: validation, env overrides,
// `config check --print`, reload (which keys apply live) and the docs test all read it.
import type { SinkConfig } from '../sinks/config.js';
import type { AnomalyKind } from '../schema/flow.js';

interface Common {
  /** Applied on SIGHUP without a restart. Everything else is read once at start. */
  live?: true;
}

export type FieldSpec = Common & (
  | { type: 'int'; min: number; max: number; default: number }
  | { type: 'number'; min: number; max: number; default: number }
  | { type: 'bool'; default: boolean }
  /** Free text (paths, names). `empty` allows ''. */
  | { type: 'string'; default: string; empty?: boolean }
  | { type: 'enum'; values: readonly string[]; default: string }
  /** Stored in milliseconds; written as "30s", "5m", "24h". */
  | { type: 'duration'; minMs: number; maxMs: number; default: number }
  /** Stored in bytes; written as 4096 or "64KiB". */
  | { type: 'size'; min: number; max: number; default: number }
  /** Ports and ranges: [80, 443, "8000-8999"]. */
  | { type: 'ports'; default: PortRange[] }
  /** Shell-style globs on a process name (comm): "nginx", "python*", "?ode". */
  | { type: 'globs'; default: string[] }
  | { type: 'strings'; default: string[] }
  /** "HOST:PORT", "[::1]:PORT" or "off". */
  | { type: 'listen'; default: string }
  | { type: 'namingRules'; default: NamingRule[] }
  | { type: 'sinks'; default: SinkConfig[] }
);

export interface SchemaSection { [key: string]: FieldSpec | SchemaSection }

export interface PortRange { from: number; to: number }

export interface NamingRule {
  match: { comm?: string; exe?: string; cgroup?: string; cidr?: string; port?: number };
  workload: string;
}

/** The sink types agent/sinks implements (OCSF and ECS are payload formats of these). */
export const sinkTypes = ['syslog', 'splunk_hec', 'elasticsearch', 'webhook', 'file'] as const;

export const captureEngines = ['auto', 'libbpf', 'bpftrace'] as const;
export const grpcDecodeModes = ['off', 'schema', 'schemaless'] as const;

export interface DetectorSettings { enabled: boolean; [knob: string]: number | boolean }

export interface FlowscopeConfig {
  capture: {
    includePorts: PortRange[];
    excludePorts: PortRange[];
    includeProcesses: string[];
    excludeProcesses: string[];
    maxCaptureBytes: number;
    ringBufferBytes: number;
    maxBodyBytes: number;
    tlsProbes: boolean;
    engine: (typeof captureEngines)[number];
  };
  grpc: { progressIntervalSeconds: number; decode: (typeof grpcDecodeModes)[number]; protoPath: string };
  identity: { enabled: boolean; kubeconfig: string; nodeName: string; procRoot: string; namingRules: NamingRule[] };
  baseline: { dbPath: string; learnWindow: number; routePatterns: string[]; maxEndpointsPerEdge: number };
  detectors: Record<DetectorKey, DetectorSettings>;
  stream: { listen: string; tokenFile: string; tlsCert: string; tlsKey: string; history: number; maxClientsPerIp: number };
  sinks: SinkConfig[];
  metrics: { redEndpointLabels: boolean; maxSeries: number };
  outputs: { flowsOut: string; anomaliesOut: string };
}

/** Detector config keys: the AnomalyKind in camelCase (AUTH_FAILURE_BURST → authFailureBurst). */
export const detectorKinds = {
  newEdge: 'NEW_EDGE',
  newEndpoint: 'NEW_ENDPOINT',
  newProtocol: 'NEW_PROTOCOL',
  plaintext: 'PLAINTEXT',
  authFailureBurst: 'AUTH_FAILURE_BURST',
  scan: 'SCAN',
  enumeration: 'ENUMERATION',
  rateSpike: 'RATE_SPIKE',
  errorSpike: 'ERROR_SPIKE',
  latencySpike: 'LATENCY_SPIKE',
  injection: 'INJECTION',
  sensitiveData: 'SENSITIVE_DATA',
  jwtWeakness: 'JWT_WEAKNESS',
  largeTransfer: 'LARGE_TRANSFER',
} as const satisfies Record<string, AnomalyKind>;
export type DetectorKey = keyof typeof detectorKinds;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const enabled: FieldSpec = { type: 'bool', default: true };
const windowOf = (defaultMs: number): FieldSpec => ({ type: 'duration', minMs: SECOND, maxMs: HOUR, default: defaultMs });
const count = (min: number, max: number, value: number): FieldSpec => ({ type: 'int', min, max, default: value });
const ratio = (min: number, max: number, value: number): FieldSpec => ({ type: 'number', min, max, default: value });
const bytes = (max: number, value: number): FieldSpec => ({ type: 'size', min: 64, max, default: value });
const flag = (value: boolean): FieldSpec => ({ type: 'bool', default: value });
/**
 * An edge or endpoint departs from its own baseline: above median + k·σ (σ from the median
 * absolute deviation), at least minRatio × the median and the median + minDelta.
 */
const spike = (minDelta: number, minRequests: number): SchemaSection => ({
  enabled,
  k: ratio(1, 100, 6),
  minRatio: ratio(1, 1000, 3),
  minDelta: ratio(0, 1e9, minDelta),
  minRequests: count(1, 1_000_000, minRequests),
  minHistoryWindows: count(1, 10_000, 12),
});

export const configSchema = {
  capture: {
    includePorts: { type: 'ports', default: [], live: true },
    excludePorts: { type: 'ports', default: [], live: true },
    includeProcesses: { type: 'globs', default: [], live: true },
    excludeProcesses: { type: 'globs', default: [], live: true },
    maxCaptureBytes: { type: 'size', min: 64, max: 65536, default: 16384 },
    ringBufferBytes: { type: 'size', min: 1 << 20, max: 1 << 30, default: 4 << 20 },
    maxBodyBytes: { type: 'size', min: 0, max: 1 << 20, default: 0 },
    tlsProbes: { type: 'bool', default: true },
    engine: { type: 'enum', values: captureEngines, default: 'auto' },
  },
  grpc: {
    progressIntervalSeconds: { type: 'int', min: 0, max: 86_400, default: 60 },
    decode: { type: 'enum', values: grpcDecodeModes, default: 'off' },
    protoPath: { type: 'string', default: '', empty: true },
  },
  identity: {
    enabled: { type: 'bool', default: true },
    kubeconfig: { type: 'string', default: '', empty: true },
    nodeName: { type: 'string', default: '', empty: true },
    procRoot: { type: 'string', default: '/proc' },
    namingRules: { type: 'namingRules', default: [], live: true },
  },
  baseline: {
    dbPath: { type: 'string', default: '/var/lib/flowscope/baseline.db' },
    learnWindow: { type: 'duration', minMs: SECOND, maxMs: 90 * DAY, default: DAY },
    routePatterns: { type: 'strings', default: [] },
    maxEndpointsPerEdge: { type: 'int', min: 1, max: 100_000, default: 1000 },
  },
  detectors: {
    newEdge: { enabled },
    newEndpoint: { enabled, requiresSuccess: flag(true), maxPerEdge: count(1, 100_000, 20) },
    newProtocol: { enabled },
    plaintext: { enabled, internalHttp: flag(false) },
    authFailureBurst: { enabled, window: windowOf(MINUTE), minFailures: count(1, 1_000_000, 10), factorOverBaseline: ratio(1, 1000, 5) },
    scan: {
      enabled, window: windowOf(30 * SECOND), minDistinctPaths: count(2, 100_000, 20), minFailureRatio: ratio(0, 1, 0.7),
      minDistinctPorts: count(2, 65_535, 10), portFactorOverBaseline: ratio(1, 1000, 2),
    },
    enumeration: { enabled, window: windowOf(MINUTE), minDistinctValues: count(2, 1_000_000, 30), factorOverBaseline: ratio(1, 1000, 2) },
    rateSpike: spike(20, 30),
    errorSpike: spike(0.2, 20),
    latencySpike: spike(50, 20),
    injection: { enabled, maxFieldBytes: bytes(1 << 20, 4096), maxBodyBytes: bytes(1 << 20, 8192) },
    sensitiveData: { enabled, maxFieldBytes: bytes(1 << 20, 16_384), scanResponses: flag(true) },
    jwtWeakness: { enabled, expiryLeeway: { type: 'duration', minMs: 0, maxMs: DAY, default: MINUTE }, maxFieldBytes: bytes(1 << 20, 8192) },
    largeTransfer: {
      enabled, factor: ratio(1, 10_000, 10), quantile: ratio(0.5, 1, 0.99),
      minBytes: { type: 'size', min: 0, max: 1 << 30, default: 1 << 20 }, minSamples: count(1, 1_000_000, 50),
    },
  },
  stream: {
    listen: { type: 'listen', default: '127.0.0.1:7070' },
    tokenFile: { type: 'string', default: '', empty: true, live: true },
    tlsCert: { type: 'string', default: '', empty: true },
    tlsKey: { type: 'string', default: '', empty: true },
    history: { type: 'int', min: 0, max: 1_000_000, default: 10_000 },
    maxClientsPerIp: { type: 'int', min: 1, max: 10_000, default: 16 },
  },
  sinks: { type: 'sinks', default: [], live: true },
  metrics: {
    redEndpointLabels: { type: 'bool', default: false },
    maxSeries: { type: 'int', min: 100, max: 1_000_000, default: 10_000 },
  },
  outputs: {
    flowsOut: { type: 'string', default: '', empty: true },
    anomaliesOut: { type: 'string', default: '', empty: true },
  },
} satisfies Record<keyof FlowscopeConfig, SchemaSection | FieldSpec>;

export function isFieldSpec(node: FieldSpec | SchemaSection): node is FieldSpec {
  return typeof (node as FieldSpec).type === 'string' && 'default' in node;
}

/** Every leaf with its dotted path ("capture.maxCaptureBytes"), in schema order. */
export function schemaLeaves(node: SchemaSection = configSchema, prefix = ''): Array<[string, FieldSpec]> {
  const leaves: Array<[string, FieldSpec]> = [];
  for (const [key, child] of Object.entries(node)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isFieldSpec(child)) leaves.push([path, child]);
    else leaves.push(...schemaLeaves(child, path));
  }
  return leaves;
}

/** The defaults as an effective config. */
export function defaultConfig(): FlowscopeConfig {
  const build = (node: SchemaSection): Record<string, unknown> =>
    Object.fromEntries(Object.entries(node).map(([key, child]) => [key, isFieldSpec(child) ? structuredClone(child.default) : build(child)]));
  return build(configSchema) as unknown as FlowscopeConfig;
}
