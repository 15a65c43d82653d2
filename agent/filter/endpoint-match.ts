// --from / --to: which end of a record a value names. A value is an IP, a CIDR,
// IP:PORT ([IPv6]:PORT), `namespace/pod` (or `namespace/workload`), or a bare
// name matched against the workload, pod and process (comm). A `kind:` prefix
// (ip:, port:, workload:, pod:, process:, namespace:) removes the ambiguity.
import { BlockList, isIP } from 'node:net';
import type { Endpoint } from '../schema/flow.js';
import { filterError, type FilterKey } from './filter-spec.js';

export type EndpointPredicate = (end: Endpoint) => boolean;

const EXPECTED = 'an IP, a CIDR (10.0.0.0/8), IP:PORT, namespace/pod, a workload, pod or process name, or ip:|port:|workload:|pod:|process:|namespace:NAME';

function addressMatcher(key: FilterKey, value: string): EndpointPredicate | undefined {
  const slash = value.indexOf('/');
  const address = slash < 0 ? value : value.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return undefined;
  if (slash < 0) return (end) => end.ip === address;
  const bits = Number(value.slice(slash + 1));
  if (!/^\d{1,3}$/.test(value.slice(slash + 1)) || bits > (family === 4 ? 32 : 128)) throw filterError(key, value, EXPECTED);
  const list = new BlockList();
  list.addSubnet(address, bits, family === 4 ? 'ipv4' : 'ipv6');
  const type = family === 4 ? 'ipv4' : 'ipv6';
  return (end) => {
    const endFamily = isIP(end.ip);
    if (endFamily === 0) return false;
    // BlockList answers IPv4-mapped IPv6 for an IPv4 subnet too.
    return list.check(end.ip, endFamily === 4 ? 'ipv4' : 'ipv6') || (endFamily === 6 && type === 'ipv4' && list.check(end.ip, 'ipv6'));
  };
}

function compileOne(key: FilterKey, raw: string): EndpointPredicate {
  const value = raw.trim();
  if (value === '') throw filterError(key, raw, EXPECTED);
  const withPort = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(value);
  if (withPort) {
    const ip = withPort[1] ?? withPort[2]!;
    const port = Number(withPort[3]);
    if (isIP(ip) === 0 || port > 65535) throw filterError(key, raw, EXPECTED);
    return (end) => end.ip === ip && end.port === port;
  }
  const prefixed = /^(ip|port|workload|pod|process|namespace):(.+)$/.exec(value);
  if (prefixed) {
    const name = prefixed[2]!;
    switch (prefixed[1]) {
      case 'ip': {
        const match = addressMatcher(key, name);
        if (!match) throw filterError(key, raw, EXPECTED);
        return match;
      }
      case 'port': {
        const port = Number(name);
        if (!/^\d{1,5}$/.test(name) || port > 65535) throw filterError(key, raw, EXPECTED);
        return (end) => end.port === port;
      }
      case 'workload': return (end) => end.workload === name;
      case 'pod': return (end) => end.pod === name;
      case 'process': return (end) => end.process === name;
      default: return (end) => end.namespace === name;
    }
  }
  const address = addressMatcher(key, value);
  if (address) return address;
  const slash = value.indexOf('/');
  if (slash >= 0) {
    const namespace = value.slice(0, slash);
    const name = value.slice(slash + 1);
    if (namespace === '' || name === '' || name.includes('/')) throw filterError(key, raw, EXPECTED);
    return (end) => end.namespace === namespace && (end.pod === name || end.workload === name);
  }
  return (end) => end.workload === value || end.pod === value || end.process === value;
}

/** One predicate over an endpoint: true when any of the values names it. */
export function compileEndpointMatch(key: FilterKey, values: string[]): EndpointPredicate {
  const matchers = values.map((v) => compileOne(key, v));
  if (matchers.length === 1) return matchers[0]!;
  return (end) => matchers.some((m) => m(end));
}
