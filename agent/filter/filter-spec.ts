// The filter language shared by the CLI, the stream server and the web page.
// A spec maps each key (a CLI flag name without dashes, camelCased) to the
// values given for it: values of one key OR together, keys AND together.
import { ErrorCodes, FlowscopeError } from '../errors.js';

export const FILTER_KEYS = [
  'from', 'to', 'protocol', 'method', 'path', 'status', 'grpcStatus', 'tls', 'plaintext', 'minLatency', 'since', 'severity',
] as const;

export type FilterKey = (typeof FILTER_KEYS)[number];
export type FilterSpec = Partial<Record<FilterKey, string[]>>;

/** Caps that keep a hostile filter (from the network) cheap to compile and run. */
export const FILTER_LIMITS = { valuesPerKey: 64, valueLength: 512 } as const;

export function isFilterKey(key: string): key is FilterKey {
  return (FILTER_KEYS as readonly string[]).includes(key);
}

/** A filter that cannot be compiled: says which key and value, and what would work. */
export function filterError(key: FilterKey, value: string, expected: string): FlowscopeError {
  return new FlowscopeError(ErrorCodes.BAD_FLAG, `bad ${flagName(key)} value '${value}'`, `use ${expected}`);
}

/** `grpcStatus` → `--grpc-status`. */
export function flagName(key: FilterKey): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * Checks an untrusted spec (a stream subscription) and normalises it: known
 * keys only, arrays of strings, bounded sizes.
 */
export function validateSpec(raw: unknown): FilterSpec {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, 'filter must be an object of key → array of strings', 'send e.g. {"status":["5xx"]}');
  }
  const spec: FilterSpec = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!isFilterKey(key)) {
      throw new FlowscopeError(ErrorCodes.BAD_FLAG, `unknown filter key '${key}'`, `use one of ${FILTER_KEYS.join(', ')}`);
    }
    const values = Array.isArray(value) ? value : [value];
    if (values.length > FILTER_LIMITS.valuesPerKey) {
      throw new FlowscopeError(ErrorCodes.BAD_FLAG, `too many values for filter key '${key}'`, `give at most ${FILTER_LIMITS.valuesPerKey}`);
    }
    spec[key] = values.map((v) => {
      if (typeof v === 'boolean' || typeof v === 'number') return String(v);
      if (typeof v !== 'string' || v.length > FILTER_LIMITS.valueLength) {
        throw new FlowscopeError(ErrorCodes.BAD_FLAG, `filter key '${key}' needs strings of at most ${FILTER_LIMITS.valueLength} characters`, 'send e.g. {"status":["5xx"]}');
      }
      return v;
    });
  }
  return spec;
}
