// Byte builders for hand-made HTTP/2 input in tests: frames, HPACK representations, Huffman strings.
import { HUFFMAN_CODE_LENGTHS, HUFFMAN_CODES } from '../../../decoders/http2/huffman.js';
import { CLIENT_PREFACE } from '../../../decoders/http2/frame-parser.js';

export { CLIENT_PREFACE };

export function hex(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-f]/gi, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function bytes(...parts: (Uint8Array | number[] | string)[]): Uint8Array {
  const arrays = parts.map((p) => (typeof p === 'string' ? new TextEncoder().encode(p) : p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

export function frame(type: number, flags: number, streamId: number, payload: Uint8Array | number[] = []): Uint8Array {
  const p = payload instanceof Uint8Array ? payload : Uint8Array.from(payload);
  const h = new Uint8Array(9 + p.length);
  h[0] = (p.length >> 16) & 0xff;
  h[1] = (p.length >> 8) & 0xff;
  h[2] = p.length & 0xff;
  h[3] = type;
  h[4] = flags;
  h[5] = (streamId >>> 24) & 0x7f;
  h[6] = (streamId >>> 16) & 0xff;
  h[7] = (streamId >>> 8) & 0xff;
  h[8] = streamId & 0xff;
  h.set(p, 9);
  return h;
}

export const settingsFrame = (entries: [number, number][] = [], ack = false): Uint8Array =>
  frame(
    4,
    ack ? 1 : 0,
    0,
    entries.flatMap(([id, v]) => [id >> 8, id & 0xff, v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]),
  );

/** HPACK integer with an N-bit prefix; `first` carries the representation's pattern bits. */
export function hpackInt(value: number, prefixBits: number, first = 0): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

export function hpackString(s: string, huffman = false): number[] {
  const octets = [...s].map((c) => c.charCodeAt(0) & 0xff);
  if (!huffman) return [...hpackInt(octets.length, 7), ...octets];
  const encoded = huffmanEncode(octets);
  return [...hpackInt(encoded.length, 7, 0x80), ...encoded];
}

export function huffmanEncode(octets: number[]): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const o of octets) {
    const code = HUFFMAN_CODES[o]!;
    const length = HUFFMAN_CODE_LENGTHS[o]!;
    for (let b = length - 1; b >= 0; b--) {
      acc = (acc << 1) | (Math.floor(code / 2 ** b) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xff);
  return out;
}

export const indexed = (index: number): number[] => hpackInt(index, 7, 0x80);
/** Literal with incremental indexing, new name. */
export const literalIndexed = (name: string, value: string, huffman = false): number[] => [0x40, ...hpackString(name, huffman), ...hpackString(value, huffman)];
/** Literal without indexing, name by index (0 = new name). */
export const literalPlain = (nameIndex: number, value: string, name = ''): number[] => [
  ...hpackInt(nameIndex, 4, 0x00),
  ...(nameIndex === 0 ? hpackString(name) : []),
  ...hpackString(value),
];
export const tableSizeUpdate = (size: number): number[] => hpackInt(size, 5, 0x20);

/** A GET request header block using only the static table and literals without indexing. */
export function requestBlock(path: string, method = 'GET', authority = 'example.test'): number[] {
  const methodField = method === 'GET' ? indexed(2) : method === 'POST' ? indexed(3) : literalPlain(2, method);
  return [...methodField, ...indexed(6), ...literalPlain(4, path), ...literalPlain(1, authority)];
}

export const END_STREAM = 0x1;
export const END_HEADERS = 0x4;
export const PADDED = 0x8;
export const PRIORITY = 0x20;
