// Sink configuration: the types the config file maps onto and one validator
// that turns untrusted input into typed configs or one-line errors naming the
// key ("sinks[1].port: must be 1-65535 (fix: …)").
import type { Anomaly, ConnectionRecord, Flow, Severity } from '../schema/flow.js';

/** The public record kinds a sink can receive. */
export type RecordKind = 'flow' | 'connection' | 'anomaly';
export type SinkRecord = Flow | ConnectionRecord | Anomaly;
/** Config spelling of the kinds (plural, as in the stream API). */
export type KindName = 'flows' | 'connections' | 'anomalies';
export type RecordPredicate = (kind: RecordKind, record: SinkRecord) => boolean;

export type PayloadFormat = 'json' | 'cef' | 'ocsf' | 'ecs';

export interface TlsClientConfig {
  /** PEM file with the CA bundle that signs the receiver's certificate. */
  caFile?: string;
  /** Client certificate and key (PEM files) for mutual TLS. */
  certFile?: string;
  keyFile?: string;
  /** Name checked against the receiver's certificate (defaults to the host). */
  serverName?: string;
  /** Accept any certificate. Only for testing. */
  insecureSkipVerify?: boolean;
}

export interface BatchConfig {
  maxRecords: number;
  maxBytes: number;
  /** A partial batch leaves after this long. */
  flushIntervalMs: number;
}

export interface RetryConfig {
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export interface SpoolConfig {
  /** Disk queue bound for this sink; records beyond it are dropped and counted. */
  maxBytes: number;
}

interface SinkCommon {
  /** Unique, file-name safe; names the spool directory and the metrics label. */
  name: string;
  kinds: KindName[];
  /** Anomalies below this severity are not sent (flows and connections are unaffected). */
  minSeverity?: Severity;
  /** A compiled filter (the CLI filter language); not read from the config file. */
  filter?: RecordPredicate;
}

interface DeliveryOptions {
  batch: BatchConfig;
  retry: RetryConfig;
  spool: SpoolConfig;
}

export interface SyslogSinkConfig extends SinkCommon, DeliveryOptions {
  type: 'syslog';
  host: string;
  port: number;
  transport: 'tcp' | 'tls';
  format: PayloadFormat;
  /** Syslog facility number 0-23 (default 16, local0). */
  facility: number;
  appName: string;
  tls?: TlsClientConfig;
}

interface HttpSinkCommon extends SinkCommon, DeliveryOptions {
  url: string;
  gzip: boolean;
  /** Extra request headers (for example a proxy's auth). */
  headers?: Record<string, string>;
  timeoutMs: number;
  tls?: TlsClientConfig;
}

export interface SplunkHecSinkConfig extends HttpSinkCommon {
  type: 'splunk_hec';
  format: 'json' | 'ocsf' | 'ecs';
  token?: string;
  tokenFile?: string;
  index?: string;
  source?: string;
  sourcetype?: string;
}

export interface ElasticsearchSinkConfig extends HttpSinkCommon {
  type: 'elasticsearch';
  format: 'json' | 'ocsf' | 'ecs';
  index: string;
  /** `index` overwrites by id; `create` is what data streams accept. */
  action: 'index' | 'create';
  username?: string;
  password?: string;
  apiKey?: string;
}

export interface WebhookSinkConfig extends HttpSinkCommon {
  type: 'webhook';
  format: 'json' | 'ocsf' | 'ecs';
  bearerToken?: string;
}

export interface FileSinkConfig extends SinkCommon {
  type: 'file';
  path: string;
  format: 'json' | 'ocsf' | 'ecs';
  /** Rotate when the file reaches this size. */
  maxBytes: number;
  /** Rotated files kept (path.1 … path.N). */
  keep: number;
}

export type HttpSinkConfig = SplunkHecSinkConfig | ElasticsearchSinkConfig | WebhookSinkConfig;
export type SinkConfig = SyslogSinkConfig | HttpSinkConfig | FileSinkConfig;
export type SinkType = SinkConfig['type'];

export const SEVERITY_ORDER: Record<Severity, number> = { LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4 };

const SINK_TYPES: SinkType[] = ['syslog', 'splunk_hec', 'elasticsearch', 'webhook', 'file'];
const KIND_NAMES: KindName[] = ['flows', 'connections', 'anomalies'];
const COMMON_KEYS = ['type', 'name', 'kinds', 'minSeverity', 'filter'];
const DELIVERY_KEYS = ['batch', 'retry', 'spool'];
const HTTP_KEYS = [...COMMON_KEYS, ...DELIVERY_KEYS, 'url', 'gzip', 'headers', 'timeoutMs', 'tls', 'format'];
const KEYS_BY_TYPE: Record<SinkType, string[]> = {
  syslog: [...COMMON_KEYS, ...DELIVERY_KEYS, 'host', 'port', 'transport', 'format', 'facility', 'appName', 'tls'],
  splunk_hec: [...HTTP_KEYS, 'token', 'tokenFile', 'index', 'source', 'sourcetype'],
  elasticsearch: [...HTTP_KEYS, 'index', 'action', 'username', 'password', 'apiKey'],
  webhook: [...HTTP_KEYS, 'bearerToken'],
  file: [...COMMON_KEYS, 'path', 'format', 'maxBytes', 'keep'],
};
const FORMATS_BY_TYPE: Record<SinkType, PayloadFormat[]> = {
  syslog: ['cef', 'json', 'ocsf', 'ecs'],
  splunk_hec: ['json', 'ocsf', 'ecs'],
  elasticsearch: ['ecs', 'ocsf', 'json'],
  webhook: ['json', 'ocsf', 'ecs'],
  file: ['json', 'ocsf', 'ecs'],
};
const DEFAULT_FORMAT: Record<SinkType, PayloadFormat> = {
  syslog: 'cef', splunk_hec: 'json', elasticsearch: 'ecs', webhook: 'json', file: 'json',
};
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Collects one-line errors while reading one sink entry. */
class Reader {
  constructor(readonly raw: Record<string, unknown>, readonly at: string, readonly errors: string[]) {}

  fail(key: string, problem: string, fix: string): undefined {
    this.errors.push(`${this.at}.${key}: ${problem} (fix: ${fix})`);
    return undefined;
  }

  string(key: string, opts: { required?: boolean; fix?: string } = {}): string | undefined {
    const v = this.raw[key];
    if (v === undefined) return opts.required ? this.fail(key, 'is required', opts.fix ?? `set ${key}`) : undefined;
    if (typeof v !== 'string' || v === '') return this.fail(key, 'must be a non-empty string', opts.fix ?? `set ${key} to a string`);
    return v;
  }

  integer(key: string, min: number, max: number, fallback: number | undefined, fix: string): number | undefined {
    const v = this.raw[key];
    if (v === undefined) return fallback ?? this.fail(key, 'is required', fix);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return this.fail(key, `must be ${min}-${max}`, fix);
    return v;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') return this.fail(key, 'must be true or false', `write ${key}: true or ${key}: false`) ?? fallback;
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T | undefined): T | undefined {
    const v = this.raw[key];
    if (v === undefined) return fallback ?? this.fail(key, 'is required', `set ${key} to one of ${allowed.join(', ')}`);
    if (typeof v !== 'string' || !allowed.includes(v as T)) return this.fail(key, `must be one of ${allowed.join(', ')}`, `use one of ${allowed.join(', ')}`);
    return v as T;
  }

  child(key: string): Reader | undefined {
    const v = this.raw[key];
    if (v === undefined) return undefined;
    if (!isObject(v)) return this.fail(key, 'must be a mapping', `write ${key} as key: value pairs`);
    return new Reader(v, `${this.at}.${key}`, this.errors);
  }

  unknownKeys(known: string[]): void {
    for (const key of Object.keys(this.raw)) {
      if (!known.includes(key)) this.fail(key, 'unknown key', `remove it; known keys are ${known.join(', ')}`);
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface SinkValidation {
  sinks: SinkConfig[];
  /** One line each; empty when every sink is valid. */
  errors: string[];
}

/**
 * Validates the `sinks` list of the config file. `raw` is untrusted (parsed
 * YAML/JSON). Defaults are filled in; every problem is reported, not only the first.
 */
export function validateSinkConfigs(raw: unknown, at = 'sinks'): SinkValidation {
  const errors: string[] = [];
  const sinks: SinkConfig[] = [];
  if (raw === undefined || raw === null) return { sinks, errors };
  if (!Array.isArray(raw)) {
    errors.push(`${at}: must be a list (fix: write each sink as a "- type: …" item)`);
    return { sinks, errors };
  }
  const names = new Set<string>();
  raw.forEach((entry, i) => {
    const here = `${at}[${i}]`;
    if (!isObject(entry)) {
      errors.push(`${here}: must be a mapping (fix: start the item with type: one of ${SINK_TYPES.join(', ')})`);
      return;
    }
    const before = errors.length;
    const sink = readSink(new Reader(entry, here, errors), i);
    if (sink && names.has(sink.name)) {
      errors.push(`${here}.name: "${sink.name}" is used twice (fix: give each sink its own name)`);
    } else if (sink && errors.length === before) {
      names.add(sink.name);
      sinks.push(sink);
    }
  });
  return { sinks, errors };
}

function readSink(r: Reader, index: number): SinkConfig | undefined {
  const type = r.oneOf('type', SINK_TYPES, undefined);
  if (!type) return undefined;
  r.unknownKeys(KEYS_BY_TYPE[type]);
  const name = r.string('name') ?? `${type}-${index}`;
  if (!NAME_PATTERN.test(name)) r.fail('name', 'must be 1-64 letters, digits, ".", "_" or "-"', 'rename the sink, e.g. siem-primary');
  const common = { name, kinds: readKinds(r), ...readSeverity(r), ...readFilter(r) };
  const format = r.oneOf('format', FORMATS_BY_TYPE[type], DEFAULT_FORMAT[type]) ?? DEFAULT_FORMAT[type];

  if (type === 'file') {
    const path = r.string('path', { required: true, fix: 'set path to the JSON lines file, e.g. /var/log/flowscope/records.jsonl' }) ?? '';
    return {
      type, ...common, path, format: format as FileSinkConfig['format'],
      maxBytes: r.integer('maxBytes', 4096, 2 ** 40, 100 << 20, 'set maxBytes to the rotation size in bytes (>= 4096)') ?? 0,
      keep: r.integer('keep', 0, 1000, 5, 'set keep to how many rotated files to keep (0-1000)') ?? 0,
    };
  }
  const delivery = readDelivery(r, type === 'syslog' ? 256 : 500);
  const tls = readTls(r);
  if (type === 'syslog') {
    const transport = r.oneOf('transport', ['tcp', 'tls'] as const, 'tcp') ?? 'tcp';
    return {
      type, ...common, ...delivery, format, transport,
      host: r.string('host', { required: true, fix: 'set host to the syslog receiver address' }) ?? '',
      port: r.integer('port', 1, 65535, transport === 'tls' ? 6514 : 601, 'use the receiver\'s TCP port, e.g. 6514 for TLS') ?? 0,
      facility: r.integer('facility', 0, 23, 16, 'use a syslog facility number 0-23 (16 = local0)') ?? 16,
      appName: readAppName(r),
      ...(tls ? { tls } : {}),
    };
  }
  const url = readUrl(r);
  const http = {
    ...common, ...delivery, url,
    format: format as HttpSinkConfig['format'],
    gzip: r.boolean('gzip', true),
    timeoutMs: r.integer('timeoutMs', 100, 600_000, 10_000, 'set timeoutMs to 100-600000') ?? 10_000,
    ...readHeaders(r),
    ...(tls ? { tls } : {}),
  };
  if (type === 'splunk_hec') {
    const token = r.string('token');
    const tokenFile = r.string('tokenFile');
    if (!token && !tokenFile) r.fail('token', 'is required', 'set token or tokenFile to the HEC token');
    return {
      type, ...http, ...opt('token', token), ...opt('tokenFile', tokenFile),
      ...opt('index', r.string('index')), ...opt('source', r.string('source')), ...opt('sourcetype', r.string('sourcetype')),
    };
  }
  if (type === 'elasticsearch') {
    const username = r.string('username');
    const password = r.string('password');
    if ((username === undefined) !== (password === undefined)) r.fail(username ? 'password' : 'username', 'is required with the other', 'set both username and password, or neither');
    return {
      type, ...http,
      index: r.string('index', { required: true, fix: 'set index to the target index or data stream' }) ?? '',
      action: r.oneOf('action', ['index', 'create'] as const, 'create') ?? 'create',
      ...opt('username', username), ...opt('password', password), ...opt('apiKey', r.string('apiKey')),
    };
  }
  return { type, ...http, ...opt('bearerToken', r.string('bearerToken')) };
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function readKinds(r: Reader): KindName[] {
  const v = r.raw.kinds;
  if (v === undefined) return [...KIND_NAMES];
  if (!Array.isArray(v) || v.length === 0 || v.some((k) => !KIND_NAMES.includes(k as KindName))) {
    r.fail('kinds', `must be a non-empty list of ${KIND_NAMES.join(', ')}`, 'write e.g. kinds: [anomalies]');
    return [];
  }
  return [...new Set(v as KindName[])];
}

function readSeverity(r: Reader): { minSeverity?: Severity } {
  const v = r.raw.minSeverity;
  if (v === undefined) return {};
  const upper = typeof v === 'string' ? v.toUpperCase() : '';
  if (!(upper in SEVERITY_ORDER)) {
    r.fail('minSeverity', 'must be one of low, medium, high, critical', 'write e.g. minSeverity: high');
    return {};
  }
  return { minSeverity: upper as Severity };
}

function readFilter(r: Reader): { filter?: RecordPredicate } {
  const v = r.raw.filter;
  if (v === undefined) return {};
  if (typeof v !== 'function') {
    r.fail('filter', 'must be a compiled filter', 'compile the filter expression before validating the sink list');
    return {};
  }
  return { filter: v as RecordPredicate };
}

function readAppName(r: Reader): string {
  const name = r.string('appName') ?? 'flowscope';
  // RFC 5424 APP-NAME: 1*48 PRINTUSASCII.
  if (!/^[\x21-\x7e]{1,48}$/.test(name)) r.fail('appName', 'must be 1-48 printable ASCII characters without spaces', 'use e.g. flowscope');
  return name;
}

function readUrl(r: Reader): string {
  const url = r.string('url', { required: true, fix: 'set url, e.g. https://siem.example:8088' }) ?? '';
  if (url === '') return url;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') r.fail('url', 'must be http:// or https://', 'use an http or https URL');
  } catch {
    r.fail('url', 'is not a URL', 'write a full URL such as https://host:port/path');
  }
  return url;
}

function readHeaders(r: Reader): { headers?: Record<string, string> } {
  const v = r.raw.headers;
  if (v === undefined) return {};
  if (!isObject(v) || Object.values(v).some((h) => typeof h !== 'string')) {
    r.fail('headers', 'must map header names to strings', 'write headers: { X-Name: value }');
    return {};
  }
  return { headers: v as Record<string, string> };
}

function readTls(r: Reader): TlsClientConfig | undefined {
  const t = r.child('tls');
  if (!t) return undefined;
  t.unknownKeys(['caFile', 'certFile', 'keyFile', 'serverName', 'insecureSkipVerify']);
  const certFile = t.string('certFile');
  const keyFile = t.string('keyFile');
  if ((certFile === undefined) !== (keyFile === undefined)) t.fail(certFile ? 'keyFile' : 'certFile', 'is required with the other', 'set both certFile and keyFile for mutual TLS');
  return {
    ...opt('caFile', t.string('caFile')), ...opt('certFile', certFile), ...opt('keyFile', keyFile),
    ...opt('serverName', t.string('serverName')),
    insecureSkipVerify: t.boolean('insecureSkipVerify', false),
  };
}

function readDelivery(r: Reader, defaultBatch: number): DeliveryOptions {
  const b = r.child('batch');
  b?.unknownKeys(['maxRecords', 'maxBytes', 'flushIntervalMs']);
  const retry = r.child('retry');
  retry?.unknownKeys(['initialBackoffMs', 'maxBackoffMs']);
  const spool = r.child('spool');
  spool?.unknownKeys(['maxBytes']);
  const out: DeliveryOptions = {
    batch: {
      maxRecords: b?.integer('maxRecords', 1, 100_000, defaultBatch, 'set batch.maxRecords to 1-100000') ?? defaultBatch,
      maxBytes: b?.integer('maxBytes', 1024, 64 << 20, 4 << 20, 'set batch.maxBytes to 1 KiB-64 MiB') ?? 4 << 20,
      flushIntervalMs: b?.integer('flushIntervalMs', 0, 60_000, 1000, 'set batch.flushIntervalMs to 0-60000') ?? 1000,
    },
    retry: {
      initialBackoffMs: retry?.integer('initialBackoffMs', 10, 60_000, 500, 'set retry.initialBackoffMs to 10-60000') ?? 500,
      maxBackoffMs: retry?.integer('maxBackoffMs', 10, 600_000, 30_000, 'set retry.maxBackoffMs to 10-600000') ?? 30_000,
    },
    spool: {
      maxBytes: spool?.integer('maxBytes', 64 << 10, 2 ** 40, 256 << 20, 'set spool.maxBytes to at least 65536 bytes') ?? 256 << 20,
    },
  };
  if (out.retry.maxBackoffMs < out.retry.initialBackoffMs) {
    retry?.fail('maxBackoffMs', 'must be >= initialBackoffMs', 'raise maxBackoffMs or lower initialBackoffMs');
  }
  return out;
}
