// HPACK Huffman decoding (RFC 7541 §5.2, Appendix B) as a 4-bit state machine:
// each input nibble is one table lookup, so a byte costs two.

/** Code lengths of symbols 0..256 (256 is EOS). The code is canonical, so lengths define it. */
const CODE_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;
const FLAG_EMIT = 0x100;
const FLAG_FAIL = 0x200;
const FLAG_ACCEPT = 0x400;

/** Canonical codes: assigned in order of (length, symbol). */
function canonicalCodes(): number[] {
  const order = CODE_LENGTHS.map((_, s) => s).sort((a, b) => CODE_LENGTHS[a]! - CODE_LENGTHS[b]! || a - b);
  const codes = new Array<number>(CODE_LENGTHS.length);
  let code = 0;
  let previous = CODE_LENGTHS[order[0]!]!;
  order.forEach((symbol, i) => {
    const length = CODE_LENGTHS[symbol]!;
    if (i > 0) code = (code + 1) * 2 ** (length - previous);
    previous = length;
    codes[symbol] = code;
  });
  return codes;
}

/**
 * Builds the decoding table. Entry [state * 16 + nibble] holds the next state in bits 16+,
 * the emitted symbol in bits 0-7 with FLAG_EMIT, FLAG_FAIL when EOS was decoded, and
 * FLAG_ACCEPT when the next state is a legal place to stop (root, or at most 7 one-bits into
 * the EOS prefix, which is what padding must be).
 */
function buildTable(): Uint32Array {
  // Binary tree over the codes; internal nodes get state numbers, leaves are -(symbol + 1).
  const children: number[][] = [[0, 0]];
  const onesDepth: number[] = [0]; // depth if the node is on the all-ones path, else -1
  const codes = canonicalCodes();
  codes.forEach((code, symbol) => {
    const length = CODE_LENGTHS[symbol]!;
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const b = Math.floor(code / 2 ** bit) & 1;
      if (bit === 0) {
        children[node]![b] = -(symbol + 1);
      } else {
        let next = children[node]![b]!;
        if (next === 0) {
          next = children.length;
          children.push([0, 0]);
          onesDepth.push(b === 1 && onesDepth[node]! >= 0 ? onesDepth[node]! + 1 : -1);
          children[node]![b] = next;
        }
        node = next;
      }
    }
  });
  const table = new Uint32Array(children.length * 16);
  for (let state = 0; state < children.length; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const next = children[node]![(nibble >> bit) & 1]!;
        if (next < 0) {
          const symbol = -next - 1;
          if (symbol === EOS) {
            entry |= FLAG_FAIL;
            break;
          }
          entry |= FLAG_EMIT | symbol;
          node = 0;
        } else {
          node = next;
        }
      }
      const depth = onesDepth[node]!;
      if (depth >= 0 && depth <= 7) entry |= FLAG_ACCEPT;
      table[state * 16 + nibble] = (entry | (node << 16)) >>> 0;
    }
  }
  return table;
}

const TABLE = buildTable();

let scratch = new Uint8Array(256);

/**
 * Decodes a Huffman-coded string to a latin1 string (one char per octet).
 * Returns undefined for an invalid string: EOS inside, padding longer than 7 bits or not
 * all ones.
 */
export function decodeHuffman(input: Uint8Array, start: number, end: number): string | undefined {
  // Every code is at least 5 bits long.
  const maxOut = Math.ceil(((end - start) * 8) / 5);
  if (scratch.length < maxOut) scratch = new Uint8Array(Math.max(maxOut, scratch.length * 2));
  const out = scratch;
  let n = 0;
  let state = 0;
  let accept = true;
  for (let i = start; i < end; i++) {
    const byte = input[i]!;
    let entry = TABLE[(state << 4) | (byte >> 4)]!;
    if (entry & FLAG_FAIL) return undefined;
    if (entry & FLAG_EMIT) out[n++] = entry & 0xff;
    state = entry >>> 16;
    entry = TABLE[(state << 4) | (byte & 0xf)]!;
    if (entry & FLAG_FAIL) return undefined;
    if (entry & FLAG_EMIT) out[n++] = entry & 0xff;
    state = entry >>> 16;
    accept = (entry & FLAG_ACCEPT) !== 0;
  }
  if (!accept) return undefined;
  return latin1(out, 0, n);
}

/** Octets to a string with one char per octet (lossless for any header bytes). */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= 24) {
    // Short header names and values: a plain loop beats fromCharCode.apply's call setup.
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
    return s;
  }
  const CHUNK = 8192;
  if (end - start <= CHUNK) return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  let s = '';
  for (let i = start; i < end; i += CHUNK) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + CHUNK)) as unknown as number[]);
  }
  return s;
}

/** Symbol code lengths and canonical codes, for encoders in tests and benchmarks. */
export const HUFFMAN_CODE_LENGTHS: readonly number[] = CODE_LENGTHS;
export const HUFFMAN_CODES: readonly number[] = canonicalCodes();
