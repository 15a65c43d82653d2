// A subscription request, from the first client message or the query string,
// checked and compiled. Everything here comes from the network: bad input is
// an error message for the client, never an exception out of the server.
import { FlowscopeError } from '../errors.js';
import { filterSpecFromQuery } from '../filter/filter-flags.js';
import { validateSpec } from '../filter/filter-spec.js';
import { compileFilter, type RecordFilter } from '../filter/record-filter.js';
import type { StreamFormat, StreamKind } from './stream-codec.js';

export interface Subscription {
  kinds: StreamKind[];
  filter: RecordFilter;
  last: number;
  format: StreamFormat;
}

const KINDS: readonly StreamKind[] = ['flows', 'anomalies', 'connections'];

export class SubscriptionError extends Error {}

function fail(message: string): never {
  throw new SubscriptionError(message);
}

function parseKinds(raw: unknown): StreamKind[] {
  const list = typeof raw === 'string' ? raw.split(',') : raw;
  if (!Array.isArray(list) || list.length === 0) fail(`kinds must list some of ${KINDS.join(', ')}`);
  const kinds = new Set<StreamKind>();
  for (const k of list) {
    const kind = String(k).trim() as StreamKind;
    if (!KINDS.includes(kind)) fail(`unknown kind '${String(k)}': use ${KINDS.join(', ')}`);
    kinds.add(kind);
  }
  return [...kinds];
}

function parseLast(raw: unknown, maxLast: number): number {
  if (raw === undefined || raw === null || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) fail(`last must be a whole number from 0 to ${maxLast}`);
  return Math.min(n, maxLast);
}

function parseFormat(raw: unknown): StreamFormat {
  if (raw === undefined || raw === null || raw === '' || raw === 'json') return 'json';
  if (raw === 'protobuf') return 'protobuf';
  return fail(`format must be json or protobuf, got '${String(raw)}'`);
}

function compile(kinds: unknown, filter: unknown, last: unknown, format: unknown, maxLast: number): Subscription {
  const parsedKinds = parseKinds(kinds);
  let compiled: RecordFilter;
  try {
    compiled = compileFilter(validateSpec(filter));
  } catch (err) {
    if (err instanceof FlowscopeError) fail(`${err.message}${err.fix ? ` (${err.fix})` : ''}`);
    throw err;
  }
  return { kinds: parsedKinds, filter: compiled, last: parseLast(last, maxLast), format: parseFormat(format) };
}

/** `?kinds=flows,anomalies&last=100&format=json&f.status=5xx`; undefined without `kinds`. */
export function subscriptionFromQuery(params: URLSearchParams, maxLast: number): Subscription | undefined {
  if (!params.has('kinds')) return undefined;
  return compile(params.get('kinds'), filterSpecFromQuery(params), params.get('last') ?? undefined, params.get('format') ?? undefined, maxLast);
}

/** `{"type":"subscribe","kinds":[…],"filter":{…},"last":100,"format":"json"}`. */
export function subscriptionFromMessage(text: string, maxLast: number): Subscription {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    fail('messages must be JSON: {"type":"subscribe","kinds":["flows"]}');
  }
  if (typeof message !== 'object' || message === null || (message as { type?: unknown }).type !== 'subscribe') {
    fail('the only message is {"type":"subscribe","kinds":[…],"filter":{…},"last":N,"format":"json"|"protobuf"}');
  }
  const m = message as { kinds?: unknown; filter?: unknown; last?: unknown; format?: unknown };
  return compile(m.kinds, m.filter, m.last, m.format, maxLast);
}
