// HTTP and gRPC dimensions of the filter: method, path, status, gRPC status.
import { RE2JS } from 're2js';
import type { Flow } from '../schema/flow.js';
import { filterError, type FilterKey } from './filter-spec.js';

export type FlowPredicate = (flow: Flow) => boolean;

export function compileMethod(values: string[]): FlowPredicate {
  const methods = new Set(values.map((v) => v.trim().toUpperCase()));
  for (const m of methods) if (!/^[A-Z]{1,20}$/.test(m)) throw filterError('method', m, 'an HTTP method such as GET or POST');
  return (flow) => methods.has(flow.http.method);
}

/** A regex operator: `/api/` is a prefix, `/^\/users\/\d+$/` a regex. */
const REGEX_OPERATOR = /[\^$.*+?()[\]{}|\\]/;

/**
 * A path prefix, or a regular expression written /…/ with at least one regex
 * operator inside (so /api/ stays a prefix). RE2 syntax: linear time, so a
 * pattern from the network cannot stall the agent. gRPC flows match on their
 * :path (/package.Service/Method).
 */
export function compilePath(values: string[]): FlowPredicate {
  const tests = values.map((value): ((path: string) => boolean) => {
    if (value.length >= 2 && value.startsWith('/') && value.endsWith('/') && REGEX_OPERATOR.test(value.slice(1, -1))) {
      let re: RE2JS;
      try {
        re = RE2JS.compile(value.slice(1, -1));
      } catch (err) {
        throw filterError('path', value, `a valid RE2 expression between slashes (${(err as Error).message})`);
      }
      return (path) => re.test(path);
    }
    if (!value.startsWith('/')) throw filterError('path', value, 'a path prefix starting with / (e.g. /api/) or a regex written /…/');
    return (path) => path.startsWith(value);
  });
  return (flow) => tests.some((t) => t(flow.http.path));
}

/** 5xx, 4xx, 2xx … or an exact code such as 401. */
export function compileStatus(values: string[]): FlowPredicate {
  const exact = new Set<number>();
  const classes = new Set<number>();
  for (const raw of values) {
    const value = raw.trim().toLowerCase();
    const cls = /^([1-5])xx$/.exec(value);
    if (cls) classes.add(Number(cls[1]));
    else if (/^[1-5]\d\d$/.test(value)) exact.add(Number(value));
    else throw filterError('status', raw, 'a status class (2xx, 4xx, 5xx) or a code (401)');
  }
  return (flow) => {
    const status = flow.http.status ?? 0;
    return status !== 0 && (exact.has(status) || classes.has(Math.floor(status / 100)));
  };
}

export const GRPC_STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE',
  'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

/** A gRPC status by name (NOT_FOUND, not-found, NotFound) or number (5). */
export function compileGrpcStatus(values: string[]): FlowPredicate {
  const codes = new Set<number>();
  for (const raw of values) {
    const value = raw.trim();
    if (/^\d{1,2}$/.test(value) && Number(value) < GRPC_STATUS_NAMES.length) {
      codes.add(Number(value));
      continue;
    }
    const name = value.replace(/([a-z])([A-Z])/g, '$1_$2').replace(/-/g, '_').toUpperCase();
    const code = (GRPC_STATUS_NAMES as readonly string[]).indexOf(name === 'CANCELED' ? 'CANCELLED' : name);
    if (code < 0) throw filterError('grpcStatus', raw, `a gRPC status number 0–16 or name (${GRPC_STATUS_NAMES.join(', ')})`);
    codes.add(code);
  }
  return (flow) => flow.grpc?.status !== undefined && codes.has(flow.grpc.status);
}

export function compileProtocol(key: FilterKey, values: string[]): Set<string> {
  const protocols = new Set<string>();
  for (const raw of values) {
    const value = raw.trim().toUpperCase().replace(/[/.]/g, '');
    const name = value === 'HTTP11' || value === 'HTTP' ? 'HTTP1' : value === 'H2' ? 'HTTP2' : value;
    if (name !== 'HTTP1' && name !== 'HTTP2' && name !== 'GRPC') throw filterError(key, raw, 'HTTP1, HTTP2 or GRPC');
    protocols.add(name);
  }
  return protocols;
}
