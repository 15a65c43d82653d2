// Encodes a Flow as JSON text straight into a byte buffer: the bytes are exactly
// what `JSON.stringify(flow)` gives, UTF-8 encoded, without building the string
// and encoding it again (the cost of a flow on the JSON-lines output).
//
// Exactness rests on three checks made per record:
// - every object (flow, endpoints, http, grpc) has only keys the Flow type
//   declares, in the order buildFlow and the identity resolver set them, so
//   writing fields in that order is JSON.stringify's order; undefined fields
//   are left out, as it leaves them out;
// - every object is a plain object (no toJSON, no class) and every array a plain array;
// - every value is a string, number, boolean or null where a scalar goes.
// A record that fails one (a key from a newer schema, fields set in another
// order) is reported as UNKNOWN_SHAPE and the caller stringifies it instead.
//
// Strings that are printable ASCII with no quote or backslash (ips, paths,
// hosts, process names) are copied as they are; any other string goes through
// JSON.stringify itself, so escapes (control characters, lone surrogates) are
// its own by construction.
import type { Endpoint, Flow, GrpcInfo, HttpInfo } from '../schema/flow.js';

/** Something outside the Flow shape: use JSON.stringify. */
export const UNKNOWN_SHAPE = -1;
/** The buffer ran out before the end of the flow. */
export const NO_ROOM = -2;

/**
 * `,"key":` as little-endian 32-bit words: a key costs a few 4-byte stores
 * instead of a character-by-character copy. The last word may run up to 3
 * bytes past the key; what follows overwrites them.
 */
interface KeyText {
  words: Int32Array;
  length: number;
}

function keyText(key: string): KeyText {
  const text = `,"${key}":`;
  const bytes = Buffer.alloc((text.length + 3) & ~3);
  bytes.write(text, 'latin1');
  const words = new Int32Array(bytes.length / 4);
  for (let i = 0; i < words.length; i++) words[i] = bytes.readInt32LE(i * 4);
  return { words, length: text.length };
}

function keyTexts<K extends string>(keys: readonly K[]): Record<K, KeyText> {
  return Object.fromEntries(keys.map((k) => [k, keyText(k)])) as Record<K, KeyText>;
}

// Every field the Flow type declares (agent/schema/flow.ts), in the order buildFlow
// (agent/flows/flow-builder.ts) and the identity resolver set them: the expected order.
// Another order is still written exactly, by JSON.stringify (UNKNOWN_SHAPE).
const FLOW_KEYS = ['time', 'durationNs', 'protocol', 'tls', 'observedAt', 'source', 'destination', 'http', 'connId', 'issues', 'grpc'] as const;
const ENDPOINT_KEYS = ['ip', 'port', 'pid', 'process', 'exe', 'user', 'containerId', 'pod', 'namespace', 'workload', 'workloadKind', 'serviceAccount'] as const;
const HTTP_KEYS = ['method', 'path', 'host', 'status', 'requestBytes', 'responseBytes', 'headersTrusted', 'streamId'] as const;
// GrpcInfo as agent/flows/http2-session.ts builds it.
const GRPC_KEYS = ['service', 'method', 'requestMessages', 'responseMessages', 'status', 'message', 'inProgress', 'requestPayloads', 'responsePayloads'] as const;

const F = keyTexts(FLOW_KEYS);
const E = keyTexts(ENDPOINT_KEYS);
const H = keyTexts(HTTP_KEYS);
const G = keyTexts(GRPC_KEYS);

type Out = { buf: Buffer; view: DataView; end: number };

/** Reusable encoder; keeps a DataView of the last buffer it wrote to. */
export class FlowJsonEncoder {
  #out: Out = { buf: Buffer.alloc(0), view: new DataView(new ArrayBuffer(0)), end: 0 };

  /**
   * Writes `flow` as JSON into `buf` from `start`, leaving at least `reserve`
   * bytes free at the end. Returns where the JSON ends, UNKNOWN_SHAPE or NO_ROOM;
   * on either, bytes past `start` are scratch.
   */
  encode(flow: Flow, buf: Buffer, start: number, reserve = 0): number {
    const out = this.#out;
    if (out.buf !== buf) {
      out.buf = buf;
      out.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    out.end = buf.length - reserve;
    return writeFlow(out, start, flow);
  }
}

// Every writer takes the position to write at and returns the position after
// what it wrote; a negative position (UNKNOWN_SHAPE, NO_ROOM) passes through
// unchanged, so a chain of writers needs no check between them.

function writeFlow(out: Out, pos: number, f: Flow): number {
  if (typeof f !== 'object' || f === null || !isPlainObject(f) || !inExpectedOrder(f, FLOW_KEYS)) return UNKNOWN_SHAPE;
  const open = pos;
  pos = scalarField(out, pos, F.time, f.time);
  pos = scalarField(out, pos, F.durationNs, f.durationNs);
  pos = scalarField(out, pos, F.protocol, f.protocol);
  pos = scalarField(out, pos, F.tls, f.tls);
  pos = scalarField(out, pos, F.observedAt, f.observedAt);
  pos = endpointField(out, pos, F.source, f.source);
  pos = endpointField(out, pos, F.destination, f.destination);
  pos = httpField(out, pos, F.http, f.http);
  pos = scalarField(out, pos, F.connId, f.connId);
  pos = stringsField(out, pos, F.issues, f.issues);
  pos = grpcField(out, pos, F.grpc, f.grpc);
  return closeObject(out, open, pos);
}

/**
 * The JSON of frozen endpoints, by object: a frozen object's fields cannot
 * change, so neither can its text. The pipeline freezes a connection's ends
 * and shares them among its flows, so on a keep-alive connection each end is
 * encoded once. Only frozen objects go in, and an object stays frozen, so a
 * hit needs no check (Object.isFrozen walks the object's descriptors).
 */
const frozenEndpointJson = new WeakMap<Endpoint, Uint8Array>();

function endpointField(out: Out, pos: number, key: KeyText, e: Endpoint | undefined): number {
  if (e === undefined || pos < 0) return pos;
  if (typeof e !== 'object' || e === null) return scalarField(out, pos, key, e);
  pos = writeKey(out, pos, key);
  if (pos < 0) return pos;
  const known = frozenEndpointJson.get(e);
  if (known === undefined) {
    const end = endpointObject(out, pos, e);
    if (end >= 0 && Object.isFrozen(e)) frozenEndpointJson.set(e, new Uint8Array(out.buf.subarray(pos, end)));
    return end;
  }
  if (pos + known.length > out.end) return NO_ROOM;
  out.buf.set(known, pos);
  return pos + known.length;
}

function endpointObject(out: Out, pos: number, e: Endpoint): number {
  if (pos < 0) return pos;
  if (!isPlainObject(e) || !inExpectedOrder(e, ENDPOINT_KEYS)) return UNKNOWN_SHAPE;
  const open = pos;
  pos = scalarField(out, pos, E.ip, e.ip);
  pos = scalarField(out, pos, E.port, e.port);
  pos = scalarField(out, pos, E.pid, e.pid);
  pos = scalarField(out, pos, E.process, e.process);
  pos = scalarField(out, pos, E.exe, e.exe);
  pos = scalarField(out, pos, E.user, e.user);
  pos = scalarField(out, pos, E.containerId, e.containerId);
  pos = scalarField(out, pos, E.pod, e.pod);
  pos = scalarField(out, pos, E.namespace, e.namespace);
  pos = scalarField(out, pos, E.workload, e.workload);
  pos = scalarField(out, pos, E.workloadKind, e.workloadKind);
  pos = scalarField(out, pos, E.serviceAccount, e.serviceAccount);
  return closeObject(out, open, pos);
}

function httpField(out: Out, pos: number, key: KeyText, h: HttpInfo | undefined): number {
  if (h === undefined || pos < 0) return pos;
  if (typeof h !== 'object' || h === null) return scalarField(out, pos, key, h);
  if (!isPlainObject(h) || !inExpectedOrder(h, HTTP_KEYS)) return UNKNOWN_SHAPE;
  const open = (pos = writeKey(out, pos, key));
  pos = scalarField(out, pos, H.method, h.method);
  pos = scalarField(out, pos, H.path, h.path);
  pos = scalarField(out, pos, H.host, h.host);
  pos = scalarField(out, pos, H.status, h.status);
  pos = scalarField(out, pos, H.requestBytes, h.requestBytes);
  pos = scalarField(out, pos, H.responseBytes, h.responseBytes);
  pos = scalarField(out, pos, H.headersTrusted, h.headersTrusted);
  pos = scalarField(out, pos, H.streamId, h.streamId);
  return closeObject(out, open, pos);
}

function grpcField(out: Out, pos: number, key: KeyText, g: GrpcInfo | undefined): number {
  if (g === undefined || pos < 0) return pos;
  if (typeof g !== 'object' || g === null) return scalarField(out, pos, key, g);
  if (!isPlainObject(g) || !inExpectedOrder(g, GRPC_KEYS)) return UNKNOWN_SHAPE;
  const open = (pos = writeKey(out, pos, key));
  pos = scalarField(out, pos, G.service, g.service);
  pos = scalarField(out, pos, G.method, g.method);
  pos = scalarField(out, pos, G.requestMessages, g.requestMessages);
  pos = scalarField(out, pos, G.responseMessages, g.responseMessages);
  pos = scalarField(out, pos, G.status, g.status);
  pos = scalarField(out, pos, G.message, g.message);
  pos = scalarField(out, pos, G.inProgress, g.inProgress);
  pos = stringsField(out, pos, G.requestPayloads, g.requestPayloads);
  pos = stringsField(out, pos, G.responsePayloads, g.responsePayloads);
  return closeObject(out, open, pos);
}

function stringsField(out: Out, pos: number, key: KeyText, list: readonly string[] | undefined): number {
  if (list === undefined || pos < 0) return pos;
  if (typeof list !== 'object' || list === null) return scalarField(out, pos, key, list);
  if (!Array.isArray(list) || Object.getPrototypeOf(list) !== Array.prototype) return UNKNOWN_SHAPE;
  pos = writeKey(out, pos, key);
  if (pos < 0) return pos;
  if (pos + 1 > out.end) return NO_ROOM;
  out.buf[pos++] = 0x5b; // [
  for (let i = 0; i < list.length; i++) {
    const item: unknown = list[i];
    // In an array JSON.stringify prints undefined as null: not a shape worth a fast path.
    if (typeof item !== 'string') return UNKNOWN_SHAPE;
    if (i > 0) {
      if (pos + 1 > out.end) return NO_ROOM;
      out.buf[pos++] = 0x2c; // ,
    }
    pos = writeString(out, pos, item);
    if (pos < 0) return pos;
  }
  if (pos + 1 > out.end) return NO_ROOM;
  out.buf[pos++] = 0x5d; // ]
  return pos;
}

/** An object's fields were each written with a leading comma: the first becomes the brace. */
function closeObject(out: Out, open: number, pos: number): number {
  if (pos < 0) return pos;
  if (pos === open) {
    if (pos + 2 > out.end) return NO_ROOM;
    out.buf[pos++] = 0x7b; // {
  } else {
    if (pos + 1 > out.end) return NO_ROOM;
    out.buf[open] = 0x7b; // {
  }
  out.buf[pos++] = 0x7d; // }
  return pos;
}

function scalarField(out: Out, pos: number, key: KeyText, v: unknown): number {
  if (v === undefined || pos < 0) return pos;
  pos = writeKey(out, pos, key);
  if (pos < 0) return pos;
  switch (typeof v) {
    case 'string':
      return writeString(out, pos, v);
    case 'number':
      return writeNumber(out, pos, v);
    case 'boolean':
      return writeAscii(out, pos, v ? 'true' : 'false');
    default:
      // null prints as null; objects, functions, symbols and bigints are JSON.stringify's to judge.
      return v === null ? writeAscii(out, pos, 'null') : UNKNOWN_SHAPE;
  }
}

function writeKey(out: Out, pos: number, key: KeyText): number {
  if (pos < 0) return pos;
  const { words } = key;
  if (pos + words.length * 4 > out.end) return NO_ROOM;
  const { view } = out;
  for (let i = 0; i < words.length; i++) view.setInt32(pos + i * 4, words[i]!, true);
  return pos + key.length;
}

function writeString(out: Out, pos: number, s: string): number {
  if (pos < 0) return pos;
  const n = s.length;
  if (pos + n + 2 > out.end) return NO_ROOM;
  const { buf } = out;
  const start = pos;
  buf[pos++] = 0x22; // "
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return writeEscapedString(out, start, s);
    buf[pos++] = c;
  }
  buf[pos++] = 0x22;
  return pos;
}

/** The rare string with escapes or non-ASCII text: JSON.stringify's own quoting, then UTF-8. */
function writeEscapedString(out: Out, pos: number, s: string): number {
  const quoted = JSON.stringify(s);
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  if (pos + quoted.length * 3 > out.end) return NO_ROOM;
  return pos + out.buf.write(quoted, pos, 'utf8');
}

function writeNumber(out: Out, pos: number, n: number): number {
  // Ports, pids, status codes, counts: digits written in place, no string made.
  if (n >= 0 && n <= 0x7fffffff && (n | 0) === n) return writeSmallInteger(out, pos, n);
  // Otherwise ToString(n), which is what JSON.stringify prints; NaN and ±Infinity print null.
  return writeAscii(out, pos, Number.isFinite(n) ? String(n) : 'null');
}

/** 0 ≤ n < 2^31 (−0 included, printed 0). */
function writeSmallInteger(out: Out, pos: number, n: number): number {
  const digits = n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : n < 1000000 ? 6 : n < 10000000 ? 7 : n < 100000000 ? 8 : n < 1000000000 ? 9 : 10;
  if (pos + digits > out.end) return NO_ROOM;
  const { buf } = out;
  const after = pos + digits;
  pos = after;
  do {
    const rest = (n / 10) | 0;
    buf[--pos] = 0x30 + n - rest * 10;
    n = rest;
  } while (n > 0);
  return after;
}

/** Text known to be ASCII that needs no escaping (literals, number text). */
function writeAscii(out: Out, pos: number, s: string): number {
  if (pos < 0) return pos;
  const n = s.length;
  if (pos + n > out.end) return NO_ROOM;
  const { buf } = out;
  for (let i = 0; i < n; i++) buf[pos++] = s.charCodeAt(i);
  return pos;
}

/** Only own enumerable keys of a plain object: what both for-in and JSON.stringify see. */
function isPlainObject(v: object): boolean {
  return Object.getPrototypeOf(v) === Object.prototype;
}

/** Every key of `o` is one of `keys`, in the order of `keys` (some may be missing). */
function inExpectedOrder(o: object, keys: readonly string[]): boolean {
  let next = 0;
  for (const key in o) {
    while (next < keys.length && keys[next] !== key) next++;
    if (next === keys.length) return false;
    next++;
  }
  return true;
}

const sharedEncoder = new FlowJsonEncoder();
let scratch = Buffer.allocUnsafe(64 << 10);

/**
 * A flow's JSON as UTF-8 bytes (those of JSON.stringify), in a scratch buffer
 * valid until the next call: the agent encodes each flow once and hands the
 * bytes to every output that wants JSON.
 */
export function flowJsonBytes(flow: Flow): Uint8Array {
  const end = sharedEncoder.encode(flow, scratch, 0);
  if (end >= 0) return scratch.subarray(0, end);
  // Not of the known shape, or larger than the scratch: the general path.
  return recordJsonBytes(flow);
}

/** Any record's JSON.stringify as UTF-8 bytes, in the same scratch buffer (valid until the next call). */
export function recordJsonBytes(record: unknown): Uint8Array {
  const text = JSON.stringify(record);
  const length = Buffer.byteLength(text);
  if (length > scratch.length) scratch = Buffer.allocUnsafe(length);
  return scratch.subarray(0, scratch.write(text));
}
