// Naming rules: an ordered list from the config file that names workloads the
// Kubernetes API does not (bare hosts, plain containers, external partners).
// The first rule whose every given condition holds wins. Patterns are compiled
// once; a bad pattern fails when the rules are built, never while matching.
import { BlockList, isIP } from 'node:net';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import type { WorkloadKind } from './workload-kind.js';

export interface NamingRule {
  match: {
    /** Glob (`*`, `?`, `[...]`) or `/regex/` on the process name. */
    comm?: string;
    /** Glob or `/regex/` on the executable path. */
    exe?: string;
    /** Regex (unanchored) on the cgroup path. */
    cgroup?: string;
    /** `198.18.0.0/24`, `2001:db8::/32` or a single address. */
    cidr?: string;
    /** The end's own port (a server's listening port). */
    port?: number;
  };
  workload: string;
  /** Defaults to Process for an end with a process, External for one without. */
  kind?: WorkloadKind;
}

/** What a rule is matched against; fields absent for ends without a local process. */
export interface RuleSubject {
  ip: string;
  port: number;
  comm?: string;
  exe?: string;
  cgroupPath?: string;
}

interface CompiledRule {
  comm?: RegExp;
  exe?: RegExp;
  cgroup?: RegExp;
  cidr?: Cidr;
  port?: number;
  workload: string;
  kind?: WorkloadKind;
}

function badRule(index: number, message: string, cause?: unknown): FlowscopeError {
  return new FlowscopeError(ErrorCodes.BAD_FLAG, `identity naming rule ${index + 1}: ${message}`, 'fix the rule in the config file', { cause });
}

function compileRegex(source: string, index: number): RegExp {
  try {
    return new RegExp(source);
  } catch (err) {
    throw badRule(index, `bad regular expression '${source}'`, err);
  }
}

/** A glob anchored on the whole string, or the regex between slashes. */
export function compilePattern(pattern: string, index = 0): RegExp {
  if (pattern.length >= 2 && pattern.startsWith('/') && pattern.endsWith('/')) return compileRegex(pattern.slice(1, -1), index);
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw badRule(index, `unclosed '[' in glob '${pattern}'`);
      const body = pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
      source += `[${body}]`;
      i = end;
    } else source += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return compileRegex(`${source}$`, index);
}

/** IPv4 blocks are matched in plain arithmetic (BlockList costs microseconds per call); IPv6 through BlockList. */
type Cidr = { family: 'ipv4'; network: number; mask: number } | { family: 'ipv6'; list: BlockList };

/** Dotted quad → unsigned 32-bit number, or -1. */
export function parseIpv4(ip: string): number {
  let value = 0;
  let octet = -1;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (octet < 0 || ++dots > 3) return -1;
      value = value * 256 + octet;
      octet = -1;
    } else if (c >= 48 && c <= 57) {
      octet = octet < 0 ? c - 48 : octet * 10 + c - 48;
      if (octet > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || octet < 0) return -1;
  return value * 256 + octet;
}

function compileCidr(cidr: string, index: number): Cidr {
  const [address = '', prefixText] = cidr.split('/');
  const version = isIP(address);
  if (version === 0) throw badRule(index, `'${cidr}' is not an address or CIDR block`);
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d+$/.test(prefixText ?? String(max)) || prefix > max) throw badRule(index, `bad prefix length in '${cidr}'`);
  if (family === 'ipv4') {
    const mask = prefix === 0 ? 0 : (0xffff_ffff << (32 - prefix)) >>> 0;
    return { family, network: (parseIpv4(address) & mask) >>> 0, mask };
  }
  const list = new BlockList();
  list.addSubnet(address, prefix, family);
  return { family, list };
}

export class NamingRules {
  readonly #rules: CompiledRule[];

  constructor(rules: readonly NamingRule[] = []) {
    this.#rules = rules.map((rule, index) => {
      if (typeof rule.workload !== 'string' || rule.workload === '') throw badRule(index, 'workload must be a non-empty name');
      const m = rule.match ?? {};
      const compiled: CompiledRule = { workload: rule.workload };
      if (rule.kind) compiled.kind = rule.kind;
      if (m.comm !== undefined) compiled.comm = compilePattern(m.comm, index);
      if (m.exe !== undefined) compiled.exe = compilePattern(m.exe, index);
      if (m.cgroup !== undefined) compiled.cgroup = compileRegex(m.cgroup, index);
      if (m.cidr !== undefined) compiled.cidr = compileCidr(m.cidr, index);
      if (m.port !== undefined) {
        if (!Number.isInteger(m.port) || m.port < 0 || m.port > 65535) throw badRule(index, `port must be 0-65535, got ${m.port}`);
        compiled.port = m.port;
      }
      if (!compiled.comm && !compiled.exe && !compiled.cgroup && !compiled.cidr && compiled.port === undefined) {
        throw badRule(index, 'match needs at least one of comm, exe, cgroup, cidr, port');
      }
      return compiled;
    });
  }

  get size(): number {
    return this.#rules.length;
  }

  /** True when some rule can name an end without a process (by address or port). */
  get matchesRemoteEnds(): boolean {
    return this.#rules.some((r) => !r.comm && !r.exe && !r.cgroup);
  }

  /** The first matching rule's name and kind, or undefined. */
  match(subject: RuleSubject): { workload: string; kind?: WorkloadKind } | undefined {
    for (const rule of this.#rules) {
      if (rule.port !== undefined && rule.port !== subject.port) continue;
      if (rule.comm && (subject.comm === undefined || !rule.comm.test(subject.comm))) continue;
      if (rule.exe && (subject.exe === undefined || !rule.exe.test(subject.exe))) continue;
      if (rule.cgroup && (subject.cgroupPath === undefined || !rule.cgroup.test(subject.cgroupPath))) continue;
      if (rule.cidr && !cidrContains(rule.cidr, subject.ip)) continue;
      return rule.kind ? { workload: rule.workload, kind: rule.kind } : { workload: rule.workload };
    }
    return undefined;
  }
}

function cidrContains(cidr: Cidr, ip: string): boolean {
  if (cidr.family === 'ipv4') {
    const value = parseIpv4(ip);
    return value >= 0 && ((value & cidr.mask) >>> 0) === cidr.network;
  }
  return ip.includes(':') && isIP(ip) === 6 && cidr.list.check(ip, 'ipv6');
}
