// The filter as CLI flags and as URL query parameters (`f.status=5xx`), both
// turned into the one FilterSpec.
import type { ParseArgsConfig } from 'node:util';
import { FILTER_KEYS, flagName, type FilterKey, type FilterSpec } from './filter-spec.js';

type Options = NonNullable<ParseArgsConfig['options']>;

const BOOLEAN_KEYS: ReadonlySet<FilterKey> = new Set(['tls', 'plaintext']);

/** parseArgs options for every filter flag except --severity (anomalies only) and --since (commands add it). */
export const filterFlagOptions: Options = Object.fromEntries(
  FILTER_KEYS.filter((k) => k !== 'severity' && k !== 'since').map((key) => [
    flagName(key).slice(2),
    BOOLEAN_KEYS.has(key) ? { type: 'boolean' } : { type: 'string', multiple: true },
  ]),
) as Options;

export const filterFlagHelp = `Filters (repeat a flag to OR its values; different flags AND together):
  --from VALUE / --to VALUE   source / destination: workload, pod, namespace/pod, IP,
                              CIDR, IP:PORT or process name (ip:, port:, workload:,
                              pod:, process:, namespace: prefixes remove ambiguity)
  --protocol P                HTTP1, HTTP2 or GRPC
  --method M                  GET, POST, …
  --path P                    path prefix (/api/), or a regex written /…/ (RE2 syntax,
                              e.g. '/^/users/[0-9]+$/')
  --status S                  2xx, 4xx, 5xx or a code such as 401
  --grpc-status S             gRPC status name or number (NOT_FOUND, 5)
  --tls / --plaintext         only calls that were / were not encrypted
  --min-latency D             only calls that took at least D (100ms, 1.5s)`;

/** The FilterSpec from parsed CLI flags (`values` from parseArgs). */
export function filterSpecFromFlags(values: Record<string, unknown>): FilterSpec {
  const spec: FilterSpec = {};
  for (const key of FILTER_KEYS) {
    const value = values[flagName(key).slice(2)];
    if (value === undefined || value === false) continue;
    spec[key] = value === true ? ['true'] : Array.isArray(value) ? value.map(String) : [String(value)];
  }
  return spec;
}

/** The FilterSpec from `f.<key>` query parameters; unknown `f.` keys are kept for validation to reject. */
export function filterSpecFromQuery(params: URLSearchParams): Record<string, string[]> {
  const spec: Record<string, string[]> = {};
  for (const [name, value] of params) {
    if (!name.startsWith('f.')) continue;
    (spec[name.slice(2)] ??= []).push(value);
  }
  return spec;
}

/** `f.` query parameters for a spec (the CLI subscribes this way too). */
export function filterSpecToQuery(spec: FilterSpec, params: URLSearchParams): void {
  for (const [key, values] of Object.entries(spec)) for (const v of values ?? []) params.append(`f.${key}`, v);
}
