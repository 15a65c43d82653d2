// Builds the effective config: defaults < file < env (FLOWSCOPE_<SECTION>_<KEY>) < CLI flags.
// Every problem in every layer is collected, so one `config check` shows them all.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { parse as parseYaml, parseDocument, stringify as stringifyYaml } from 'yaml';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import { configSchema, defaultConfig, isFieldSpec, schemaLeaves, type FieldSpec, type FlowscopeConfig, type SchemaSection } from './schema.js';
import { validateSinks, type SinkValidator } from './sink-validator.js';
import { formatIssue, shown, toWritten, validateField, type ConfigIssue } from './validate-field.js';

export interface ConfigSources {
  /** Path of the YAML file (for messages) and its text; absent: defaults, env and flags only. */
  file?: { path: string; text: string };
  env?: NodeJS.ProcessEnv;
  /** Parsed CLI flags by flag name, as node:util parseArgs returns them. Undefined means not given. */
  flags?: Record<string, unknown>;
  /** Checks the type-specific keys of sinks and fills their defaults; agent/sinks by default. */
  validateSinks?: SinkValidator;
}

export interface ResolvedConfig {
  config: FlowscopeConfig;
  /** Empty when the config is valid; otherwise `config` must not be used. */
  issues: ConfigIssue[];
  /** One line per issue: `capture.maxCaptureBytes: must be 64-65536 bytes ... (fix: ...)`. */
  errors: string[];
}

/** CLI flags that override config keys (flags the agent already had keep their names). */
export const flagKeys: Record<string, string> = {
  'max-capture-bytes': 'capture.maxCaptureBytes',
  'ring-buffer-bytes': 'capture.ringBufferBytes',
  'max-body-bytes': 'capture.maxBodyBytes',
  'no-tls-probes': 'capture.tlsProbes',
  engine: 'capture.engine',
  'grpc-progress-interval': 'grpc.progressIntervalSeconds',
  'grpc-decode': 'grpc.decode',
  'proto-path': 'grpc.protoPath',
  kubeconfig: 'identity.kubeconfig',
  'node-name': 'identity.nodeName',
  'baseline-db': 'baseline.dbPath',
  'learn-window': 'baseline.learnWindow',
  listen: 'stream.listen',
  'token-file': 'stream.tokenFile',
  'tls-cert': 'stream.tlsCert',
  'tls-key': 'stream.tlsKey',
  'stream-history': 'stream.history',
  'flows-out': 'outputs.flowsOut',
  'anomalies-out': 'outputs.anomaliesOut',
};

const leaves = new Map(schemaLeaves());

/** FLOWSCOPE_ + the key path in upper snake case: stream.listen → FLOWSCOPE_STREAM_LISTEN. */
export function envName(path: string): string {
  return `FLOWSCOPE_${path.split('.').map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`;
}

const envToPath = new Map([...leaves.keys()].map((path) => [envName(path), path]));
const sectionEnvPrefixes = Object.keys(configSchema).map((section) => `FLOWSCOPE_${section.toUpperCase()}`);

export function resolveConfig(sources: ConfigSources): ResolvedConfig {
  const issues: ConfigIssue[] = [];
  /** Normalised values by key path, later layers overwriting earlier ones. */
  const values = new Map<string, unknown>();
  const set = (path: string, raw: unknown, origin?: string) => {
    const result = validateField(leaves.get(path)!, raw, path);
    if (result.ok) values.set(path, result.value);
    else issues.push(...result.issues.map((issue) => ({ ...issue, origin })));
  };

  if (sources.file) {
    const tree = parseFile(sources.file, issues);
    if (tree !== undefined) walkFile(tree, configSchema, '', set, issues);
  }
  for (const [name, text] of Object.entries(sources.env ?? {})) {
    if (text === undefined) continue;
    const path = envToPath.get(name);
    if (path) set(path, envValue(leaves.get(path)!, text), name);
    else if (sectionEnvPrefixes.some((prefix) => name === prefix || name.startsWith(`${prefix}_`))) {
      issues.push({ path: name, message: 'is not a known config variable', fix: suggestEnv(name) });
    }
  }
  for (const [flag, raw] of Object.entries(sources.flags ?? {})) {
    const path = flagKeys[flag];
    if (!path || raw === undefined) continue;
    if (flag === 'no-tls-probes') {
      if (raw === true) values.set(path, false);
      continue;
    }
    set(path, flagValue(leaves.get(path)!, raw), `--${flag}`);
  }

  // --proto-path alone means "decode with that schema", as the agent flag always did.
  if (!values.has('grpc.decode') && values.get('grpc.protoPath')) values.set('grpc.decode', 'schema');

  const config = defaultConfig();
  for (const [path, value] of values) setPath(config, path, value);
  issues.push(...crossFieldIssues(config));
  if (config.sinks.length > 0 && !issues.some((issue) => issue.path.startsWith('sinks'))) {
    const checked = (sources.validateSinks ?? validateSinks)(config.sinks);
    issues.push(...checked.errors.map(sinkIssue));
    config.sinks = checked.sinks;
  }
  return { config, issues, errors: issues.map(formatIssue) };
}

function parseFile(file: { path: string; text: string }, issues: ConfigIssue[]): unknown {
  const doc = parseDocument(file.text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const at = err.linePos?.[0];
      const firstLine = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      issues.push({ path: `${file.path}${at ? `:${at.line}:${at.col}` : ''}`, message: `is not valid YAML: ${firstLine}`, fix: 'correct the YAML syntax at that line (indent with spaces, quote values holding ": " or "#")' });
    }
    return undefined;
  }
  const tree: unknown = doc.toJS();
  if (tree === null || tree === undefined) return {};
  if (typeof tree !== 'object' || Array.isArray(tree)) {
    issues.push({ path: file.path, message: `must be a mapping of sections (capture:, stream:, ...), got ${shown(tree)}`, fix: 'start from packaging/flowscope.example.yaml' });
    return undefined;
  }
  return tree;
}

function walkFile(node: unknown, schema: SchemaSection, prefix: string, set: (path: string, raw: unknown) => void, issues: ConfigIssue[]): void {
  const known = Object.keys(schema);
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const spec = schema[key];
    if (!spec) {
      const near = nearest(key, known);
      issues.push({ path, message: 'is not a known key', fix: near ? `did you mean ${prefix ? `${prefix}.` : ''}${near}?` : `remove it; known keys here: ${known.join(', ')}` });
    } else if (isFieldSpec(spec)) {
      set(path, value);
    } else if (value === null) {
      // An empty section ("capture:" with nothing under it) keeps its defaults.
    } else if (typeof value !== 'object' || Array.isArray(value)) {
      issues.push({ path, message: `must be a section of keys, got ${shown(value)}`, fix: `indent its keys under ${key}: (${Object.keys(spec).slice(0, 3).join(', ')}, ...)` });
    } else {
      walkFile(value, spec, path, set, issues);
    }
  }
}

/** The known key a typo most likely meant: same letters ignoring case and _/-, or edit distance ≤ 2. */
function nearest(key: string, known: string[]): string | undefined {
  const squash = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  const exact = known.find((k) => squash(k) === squash(key));
  if (exact) return exact;
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(squash(key), squash(candidate));
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    previous = row;
  }
  return previous[b.length]!;
}

function suggestEnv(name: string): string {
  const near = nearest(name, [...envToPath.keys()]);
  return near ? `did you mean ${near}?` : 'see packaging/flowscope.example.yaml for the keys; the variable is FLOWSCOPE_ + the key path in upper snake case';
}

/** Env values are text: numbers, booleans and lists are read the way the file would write them. */
function envValue(spec: FieldSpec, text: string): unknown {
  switch (spec.type) {
    case 'int': case 'number':
      return /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text;
    case 'bool':
      return { true: true, false: false, '1': true, '0': false }[text.trim().toLowerCase()] ?? text;
    case 'ports': case 'globs': case 'strings':
      if (text.trim().startsWith('[')) return parseYamlOr(text);
      return text.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => (spec.type === 'ports' && /^\d+$/.test(s) ? Number(s) : s));
    case 'namingRules': case 'sinks':
      return parseYamlOr(text);
    default:
      return text;
  }
}

function parseYamlOr(text: string): unknown {
  try {
    return parseYaml(text);
  } catch {
    return text;
  }
}

function flagValue(spec: FieldSpec, raw: unknown): unknown {
  return typeof raw === 'string' && (spec.type === 'int' || spec.type === 'number') ? envValue(spec, raw) : raw;
}

function setPath(target: object, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
  node[parts.at(-1)!] = value;
}

export function getPath(source: object, path: string): unknown {
  return path.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], source);
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

function crossFieldIssues(config: FlowscopeConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (config.grpc.decode === 'schema' && config.grpc.protoPath === '') {
    issues.push({ path: 'grpc.protoPath', message: 'must be set when grpc.decode is schema', fix: 'set protoPath to a .proto directory or FileDescriptorSet, or use decode: schemaless' });
  }
  if ((config.stream.tlsCert === '') !== (config.stream.tlsKey === '')) {
    const missing = config.stream.tlsCert === '' ? 'tlsCert' : 'tlsKey';
    issues.push({ path: `stream.${missing}`, message: 'must be set together with the other of tlsCert/tlsKey', fix: `set stream.${missing} too, or remove both for plain HTTP` });
  }
  if (config.stream.listen !== 'off') {
    const host = config.stream.listen.slice(0, config.stream.listen.lastIndexOf(':')).replace(/^\[|\]$/g, '');
    if (!isLoopbackHost(host) && config.stream.tokenFile === '') {
      issues.push({ path: 'stream.tokenFile', message: `must be set when stream.listen (${config.stream.listen}) is not loopback: off loopback every request needs a bearer token`, fix: 'write a random token to a file readable only by flowscope and set tokenFile to its path' });
    }
  }
  return issues;
}

/** Sink validator lines already read `sinks[1].port: ... (fix: ...)`; keep them whole. */
function sinkIssue(line: string): ConfigIssue {
  const m = /^(sinks\[\d+\][^:]*): (.*?)(?: \(fix: (.*)\))?$/.exec(line);
  return m ? { path: m[1]!, message: m[2]!, fix: m[3] ?? 'see the sinks section of packaging/flowscope.example.yaml' } : { path: 'sinks', message: line, fix: 'see the sinks section of packaging/flowscope.example.yaml' };
}

/** Reads FILE (when given) and resolves the config with the sink validator when agent/sinks has one. */
export async function loadConfig(options: { path?: string; env?: NodeJS.ProcessEnv; flags?: Record<string, unknown> }): Promise<ResolvedConfig> {
  let file: ConfigSources['file'];
  if (options.path) {
    try {
      file = { path: options.path, text: await readFile(options.path, 'utf8') };
    } catch (err) {
      const issue: ConfigIssue = { path: options.path, message: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, fix: 'check the path and that flowscope may read it' };
      return { config: defaultConfig(), issues: [issue], errors: [formatIssue(issue)] };
    }
  }
  return resolveConfig({ file, env: options.env, flags: options.flags });
}

/** loadConfig for the agent: throws one FlowscopeError listing every problem. */
export async function loadConfigOrThrow(options: Parameters<typeof loadConfig>[0]): Promise<FlowscopeConfig> {
  const { config, errors } = await loadConfig(options);
  if (errors.length === 1) {
    // One problem: one line, with the key's own fix.
    const m = /^(.*) \(fix: (.*)\)$/.exec(errors[0]!);
    throw new FlowscopeError(ErrorCodes.CONFIG, m ? m[1]! : errors[0]!, m ? m[2] : undefined);
  }
  if (errors.length > 1) {
    throw new FlowscopeError(ErrorCodes.CONFIG, `the configuration has ${errors.length} errors:\n  ${errors.join('\n  ')}`, 'correct the keys above; `flowscope config check FILE` re-checks without starting');
  }
  return config;
}

/** The effective config as YAML, durations and sizes written the way the file writes them. */
export function printConfig(config: FlowscopeConfig): string {
  const written = structuredClone(config) as unknown as Record<string, unknown>;
  for (const [path, spec] of leaves) setPath(written, path, toWritten(spec, getPath(config, path)));
  return stringifyYaml(written, { lineWidth: 0 });
}
