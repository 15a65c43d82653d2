// Checks one config value against its FieldSpec and normalises it (durations to ms, sizes to
// bytes, ports to ranges). Every problem becomes a ConfigIssue naming the key and the fix.
import { isIP } from 'node:net';
import { formatDuration, formatSize, parseDuration, parseSize } from './units.js';
import type { SinkConfig } from '../sinks/config.js';
import { sinkTypes, type FieldSpec, type NamingRule, type PortRange } from './schema.js';

export interface ConfigIssue {
  /** "capture.maxCaptureBytes", "sinks[1].type". */
  path: string;
  message: string;
  fix: string;
  /** Where the bad value came from when not the file: "FLOWSCOPE_STREAM_LISTEN", "--listen". */
  origin?: string;
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.origin ? `${issue.path} (from ${issue.origin})` : issue.path;
  return `${where}: ${issue.message} (fix: ${issue.fix})`;
}

/** A value as it appears in the message: strings quoted, long values cut. */
export function shown(value: unknown): string {
  let text: string;
  if (value === null || value === undefined) text = 'nothing';
  else if (typeof value === 'string') text = JSON.stringify(value);
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function lastKey(path: string): string {
  return path.slice(path.lastIndexOf('.') + 1).replace(/\[\d+\]$/, '');
}

/** How the default is written in the file, for "e.g." fixes. */
export function writtenDefault(spec: FieldSpec): string {
  switch (spec.type) {
    case 'duration': return formatDuration(spec.default);
    case 'size': return formatSize(spec.default);
    case 'ports': return `[${spec.default.map(formatPortRange).join(', ')}]`;
    case 'namingRules': case 'sinks': case 'globs': case 'strings': return '[]';
    default: return spec.default === '' ? '""' : String(spec.default);
  }
}

export function formatPortRange(range: PortRange): string | number {
  return range.from === range.to ? range.from : `${range.from}-${range.to}`;
}

type Result = { ok: true; value: unknown } | { ok: false; issues: ConfigIssue[] };

const bad = (path: string, message: string, fix: string): Result => ({ ok: false, issues: [{ path, message, fix }] });

export function validateField(spec: FieldSpec, value: unknown, path: string): Result {
  const key = lastKey(path);
  const example = `${key}: ${writtenDefault(spec)}`;
  switch (spec.type) {
    case 'int':
    case 'number': {
      const whole = spec.type === 'int';
      const kind = whole ? 'a whole number' : 'a number';
      if (typeof value !== 'number' || !Number.isFinite(value) || (whole && !Number.isInteger(value))) {
        return bad(path, `must be ${kind} from ${spec.min} to ${spec.max}, got ${shown(value)}`, `write e.g. ${example}`);
      }
      if (value < spec.min || value > spec.max) return bad(path, `must be ${spec.min}-${spec.max}, got ${value}`, `write e.g. ${example}`);
      return { ok: true, value };
    }
    case 'bool':
      if (typeof value !== 'boolean') return bad(path, `must be true or false, got ${shown(value)}`, `write ${key}: true or ${key}: false`);
      return { ok: true, value };
    case 'string':
      if (typeof value !== 'string') return bad(path, `must be a string, got ${shown(value)}`, `quote it, e.g. ${key}: "${spec.default}"`);
      if (!spec.empty && value.trim() === '') return bad(path, 'must not be empty', `write e.g. ${example} or remove the key for the default`);
      return { ok: true, value };
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) {
        return bad(path, `must be one of ${spec.values.join(', ')}, got ${shown(value)}`, `write e.g. ${example}`);
      }
      return { ok: true, value };
    case 'duration': {
      const ms = typeof value === 'string' ? parseDuration(value) : undefined;
      if (ms === undefined) {
        return bad(path, `must be a duration like "30s", "5m" or "24h", got ${shown(value)}`, `write a number with a unit (ms, s, m, h, d), e.g. ${example}`);
      }
      if (ms < spec.minMs || ms > spec.maxMs) {
        return bad(path, `must be ${formatDuration(spec.minMs)}-${formatDuration(spec.maxMs)}, got ${shown(value)}`, `write e.g. ${example}`);
      }
      return { ok: true, value: ms };
    }
    case 'size': {
      const bytes = typeof value === 'number' || typeof value === 'string' ? parseSize(value) : undefined;
      if (bytes === undefined) {
        return bad(path, `must be a byte count or a size like "64KiB", got ${shown(value)}`, `write bytes or a unit B, KiB, MiB, GiB, KB, MB, GB, e.g. ${example}`);
      }
      if (bytes < spec.min || bytes > spec.max) {
        return bad(path, `must be ${spec.min}-${spec.max} bytes, got ${shown(value)}`, `write e.g. ${example}`);
      }
      return { ok: true, value: bytes };
    }
    case 'ports': return validatePorts(value, path);
    case 'globs': return validateStringList(value, path, checkCommGlob);
    case 'strings': return validateStringList(value, path, checkRoutePattern);
    case 'listen': return validateListen(value, path);
    case 'namingRules': return validateNamingRules(value, path);
    case 'sinks': return validateSinkList(value, path);
  }
}

function validatePorts(value: unknown, path: string): Result {
  if (!Array.isArray(value)) return bad(path, `must be a list of ports, got ${shown(value)}`, `write e.g. ${lastKey(path)}: [80, 443, "8000-8999"]`);
  const ranges: PortRange[] = [];
  const issues: ConfigIssue[] = [];
  value.forEach((item, i) => {
    const range = parsePortRange(item);
    if (range) ranges.push(range);
    else issues.push({ path: `${path}[${i}]`, message: `must be a port 1-65535 or a range "FROM-TO", got ${shown(item)}`, fix: 'write e.g. 8080 or "8000-8999"' });
  });
  return issues.length ? { ok: false, issues } : { ok: true, value: ranges };
}

function parsePortRange(item: unknown): PortRange | undefined {
  const valid = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (typeof item === 'number') return valid(item) ? { from: item, to: item } : undefined;
  if (typeof item !== 'string') return undefined;
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(item);
  if (!m) return undefined;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  return valid(from) && valid(to) && from <= to ? { from, to } : undefined;
}

function validateStringList(value: unknown, path: string, check: (item: string) => string | undefined): Result {
  if (!Array.isArray(value)) return bad(path, `must be a list of strings, got ${shown(value)}`, `write e.g. ${lastKey(path)}: ["nginx", "python*"]`);
  const issues: ConfigIssue[] = [];
  value.forEach((item, i) => {
    const problem = typeof item !== 'string' || item === '' ? `must be a non-empty string, got ${shown(item)}` : check(item);
    if (problem) issues.push({ path: `${path}[${i}]`, message: problem, fix: fixForListItem(path) });
  });
  return issues.length ? { ok: false, issues } : { ok: true, value: [...(value as string[])] };
}

function fixForListItem(path: string): string {
  return path.endsWith('routePatterns')
    ? 'write a path template starting with "/", parameters in braces, e.g. "/users/{id}/orders"'
    : 'write a process name (comm, at most 15 characters) or a glob, e.g. "nginx" or "python*"';
}

/** The kernel cuts comm to 15 characters, so a longer literal name can never match. */
const commLength = 15;

function checkCommGlob(glob: string): string | undefined {
  if (/\[[^\]]*$/.test(glob)) return `has an unclosed "[" in ${shown(glob)}`;
  if (!/[*?[]/.test(glob) && glob.length > commLength) {
    return `is ${glob.length} characters, but process names (comm) are cut to ${commLength}, so ${shown(glob)} never matches`;
  }
  return undefined;
}

function checkRoutePattern(pattern: string): string | undefined {
  if (!pattern.startsWith('/')) return `must start with "/", got ${shown(pattern)}`;
  const braces = pattern.replace(/\{[A-Za-z_][A-Za-z0-9_]*\}/g, '');
  if (/[{}]/.test(braces)) return `has a malformed {parameter} in ${shown(pattern)}`;
  return undefined;
}

function validateListen(value: unknown, path: string): Result {
  if (value === 'off') return { ok: true, value };
  const m = typeof value === 'string' ? /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(value) : null;
  const port = m ? Number(m[2]) : NaN;
  const host = m ? m[1]!.replace(/^\[|\]$/g, '') : '';
  if (!m || port > 65535 || (host.includes(':') && isIP(host) !== 6)) {
    return bad(path, `must be HOST:PORT or "off", got ${shown(value)}`, `write e.g. ${lastKey(path)}: "127.0.0.1:7070" (port 0-65535; IPv6 as "[::1]:7070")`);
  }
  return { ok: true, value };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const ruleMatchKeys = ['comm', 'exe', 'cgroup', 'cidr', 'port'] as const;

function validateNamingRules(value: unknown, path: string): Result {
  const ruleExample = '{ match: { comm: "nginx" }, workload: "web" }';
  if (!Array.isArray(value)) return bad(path, `must be a list of rules, got ${shown(value)}`, `write e.g. namingRules: [${ruleExample}]`);
  const issues: ConfigIssue[] = [];
  const rules: NamingRule[] = [];
  value.forEach((item, i) => {
    const at = `${path}[${i}]`;
    const add = (sub: string, message: string, fix: string) => issues.push({ path: `${at}${sub}`, message, fix });
    if (!isPlainObject(item)) return add('', `must be a rule object, got ${shown(item)}`, `write e.g. ${ruleExample}`);
    for (const key of Object.keys(item)) {
      if (key !== 'match' && key !== 'workload') add(`.${key}`, 'is not a known key', 'a rule has only match and workload');
    }
    if (typeof item.workload !== 'string' || item.workload.trim() === '') add('.workload', `must be a non-empty name, got ${shown(item.workload)}`, 'write e.g. workload: "web"');
    const match = item.match;
    if (!isPlainObject(match) || Object.keys(match).length === 0) {
      return add('.match', `must be an object with at least one of ${ruleMatchKeys.join(', ')}, got ${shown(match)}`, 'write e.g. match: { comm: "nginx" }');
    }
    for (const [key, v] of Object.entries(match)) {
      const sub = `.match.${key}`;
      if (!(ruleMatchKeys as readonly string[]).includes(key)) {
        add(sub, 'is not a known key', `match on one of ${ruleMatchKeys.join(', ')}`);
      } else if (key === 'port') {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) add(sub, `must be a port 1-65535, got ${shown(v)}`, 'write e.g. port: 8080');
      } else if (typeof v !== 'string' || v === '') {
        add(sub, `must be a non-empty string, got ${shown(v)}`, `write e.g. ${key}: "${key === 'cidr' ? '198.18.0.0/24' : 'nginx'}"`);
      } else if (key === 'cidr' && !isCidr(v)) {
        add(sub, `must be an address block like "198.18.0.0/24", got ${shown(v)}`, 'write an IPv4 or IPv6 address and a prefix length');
      } else if (key === 'cgroup' && regexProblem(v)) {
        add(sub, `is not a valid regular expression: ${regexProblem(v)}`, 'escape special characters, e.g. "kubepods.*\\\\.slice"');
      }
    }
    rules.push(structuredClone(item) as unknown as NamingRule);
  });
  return issues.length ? { ok: false, issues } : { ok: true, value: rules };
}

function isCidr(text: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return false;
  const family = isIP(m[1]!);
  const prefix = Number(m[2]);
  return (family === 4 && prefix <= 32) || (family === 6 && prefix <= 128);
}

function regexProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/^Invalid regular expression: /, '');
  }
}

/** The shape every sink shares; agent/sinks checks the type-specific keys. */
function validateSinkList(value: unknown, path: string): Result {
  if (!Array.isArray(value)) return bad(path, `must be a list of sinks, got ${shown(value)}`, 'write e.g. sinks: [{ type: file, path: /var/log/flowscope/anomalies.jsonl, kinds: [anomalies] }]');
  const issues: ConfigIssue[] = [];
  value.forEach((item, i) => {
    const at = `${path}[${i}]`;
    if (!isPlainObject(item)) {
      issues.push({ path: at, message: `must be a sink object with a type, got ${shown(item)}`, fix: `write e.g. { type: syslog, ... }` });
    } else if (typeof item.type !== 'string' || !(sinkTypes as readonly string[]).includes(item.type)) {
      issues.push({ path: `${at}.type`, message: `must be one of ${sinkTypes.join(', ')}, got ${shown(item.type)}`, fix: 'write e.g. type: syslog' });
    }
  });
  return issues.length ? { ok: false, issues } : { ok: true, value: structuredClone(value) as unknown as SinkConfig[] };
}

/** A normalised value written back the way the file writes it (for `config check --print`). */
export function toWritten(spec: FieldSpec, value: unknown): unknown {
  switch (spec.type) {
    case 'duration': return formatDuration(value as number);
    case 'size': {
      const text = formatSize(value as number);
      return /^\d+$/.test(text) ? value : text;
    }
    case 'ports': return (value as PortRange[]).map(formatPortRange);
    default: return value;
  }
}
