// Protobuf wire format without a schema: field numbers, wire types, and a guess at
// what length-delimited fields hold (a nested message, text, or bytes). Bounded in
// depth and fields; never throws — bytes that do not parse are reported as such.

const MAX_DEPTH = 8;
const MAX_FIELDS = 256;
const MAX_BYTES_SHOWN = 64;

/** One field: `n` field number, `wt` wire type, value shaped by what the bytes look like. */
export interface WireField {
  n: number;
  wt: 'varint' | 'i64' | 'len' | 'i32';
  /** varint: decimal string (64-bit safe); i64/i32: hex of the little-endian bytes. */
  value?: string;
  /** len: parsed as a message. */
  message?: WireField[];
  /** len: printable UTF-8. */
  text?: string;
  /** len: neither; hex of at most MAX_BYTES_SHOWN bytes. */
  bytes?: string;
  length?: number;
}

export interface SchemalessResult {
  fields: WireField[];
  /** Bytes at the end that were not a valid field. */
  invalidAt?: number;
  /** More fields than MAX_FIELDS. */
  truncated?: boolean;
}

export function decodeSchemaless(bytes: Uint8Array): SchemalessResult {
  return parse(bytes, 0) ?? { fields: [], invalidAt: 0 };
}

/** The fields, or undefined when `strict` and the bytes are not a whole message. */
function parse(bytes: Uint8Array, depth: number, strict = false): SchemalessResult | undefined {
  const fields: WireField[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (fields.length >= MAX_FIELDS) return { fields, truncated: true };
    const key = varint(bytes, at);
    if (!key) return strict ? undefined : { fields, invalidAt: at };
    const n = Number(key.value >> 3n);
    const wire = Number(key.value & 7n);
    at = key.next;
    if (n === 0 || n > 536_870_911) return strict ? undefined : { fields, invalidAt: at };
    if (wire === 0) {
      const v = varint(bytes, at);
      if (!v) return strict ? undefined : { fields, invalidAt: at };
      fields.push({ n, wt: 'varint', value: v.value.toString() });
      at = v.next;
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      if (at + size > bytes.length) return strict ? undefined : { fields, invalidAt: at };
      fields.push({ n, wt: wire === 1 ? 'i64' : 'i32', value: hex(bytes.subarray(at, at + size)) });
      at += size;
    } else if (wire === 2) {
      const len = varint(bytes, at);
      if (!len || len.next + Number(len.value) > bytes.length) return strict ? undefined : { fields, invalidAt: at };
      const inner = bytes.subarray(len.next, len.next + Number(len.value));
      fields.push(lengthDelimited(n, inner, depth));
      at = len.next + inner.length;
    } else {
      // Groups (3, 4) are obsolete and 6, 7 do not exist: not a message we can read.
      return strict ? undefined : { fields, invalidAt: at };
    }
  }
  return { fields };
}

function lengthDelimited(n: number, inner: Uint8Array, depth: number): WireField {
  const field: WireField = { n, wt: 'len', length: inner.length };
  const text = printable(inner);
  // Short printable strings also parse as messages now and then ("hi" is field 13, varint):
  // text wins when it is printable, a message when it parses whole and is not text.
  if (text !== undefined) {
    field.text = text;
    return field;
  }
  if (depth < MAX_DEPTH && inner.length > 0) {
    const nested = parse(inner, depth + 1, true);
    if (nested && !nested.truncated) {
      field.message = nested.fields;
      return field;
    }
  }
  field.bytes = hex(inner.subarray(0, MAX_BYTES_SHOWN));
  return field;
}

function varint(bytes: Uint8Array, at: number): { value: bigint; next: number } | undefined {
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    if (at + i >= bytes.length) return undefined;
    const b = bytes[at + i]!;
    value |= BigInt(b & 0x7f) << BigInt(7 * i);
    if ((b & 0x80) === 0) return { value, next: at + i + 1 };
  }
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function printable(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return '';
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return undefined;
  }
  // Control characters other than tab / newline / carriage return: not text.
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? undefined : text;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}
