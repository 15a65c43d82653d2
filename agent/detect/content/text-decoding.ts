// Bounded, never-throwing decoders for matching: attackers encode payloads
// once or twice (%252e%252e), so rules see each distinct decoding of a field.
// Bytes decode as latin1 so that every byte maps to one character and offsets
// stay meaningful; non-ASCII text is not what the rules look for.

/** Percent-decodes once (`+` as space for query strings and forms). Malformed escapes stay as they are. */
export function percentDecode(text: string, plusAsSpace: boolean): string {
  if (text.indexOf('%') < 0 && !(plusAsSpace && text.indexOf('+') >= 0)) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 37 /* % */ && i + 2 < text.length && isHex(text.charCodeAt(i + 1)) && isHex(text.charCodeAt(i + 2))) {
      out += String.fromCharCode(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === 43 /* + */ && plusAsSpace) {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

/** Turns JSON string escapes (\u0027, \/, \") into the characters they stand for. */
export function jsonUnescape(text: string): string {
  if (text.indexOf('\\') < 0) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '\\' || i + 1 >= text.length) {
      out += c;
      continue;
    }
    const next = text[i + 1]!;
    if (next === 'u' && i + 5 < text.length && isHexRun(text, i + 2, 4)) {
      out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
      i += 5;
    } else if (next === '"' || next === '/' || next === '\\') {
      out += next;
      i += 1;
    } else {
      out += c;
    }
  }
  return out;
}

export interface DecodedVariant {
  text: string;
  /** How the text was obtained from the raw field. */
  decoding: 'raw' | 'percent-decoded' | 'double-decoded' | 'json-unescaped';
}

/** The raw text and its distinct percent-decodings (once, twice). */
export function percentVariants(raw: string, plusAsSpace: boolean): DecodedVariant[] {
  const variants: DecodedVariant[] = [{ text: raw, decoding: 'raw' }];
  const once = percentDecode(raw, plusAsSpace);
  if (once !== raw) {
    variants.push({ text: once, decoding: 'percent-decoded' });
    const twice = percentDecode(once, false);
    if (twice !== once) variants.push({ text: twice, decoding: 'double-decoded' });
  }
  return variants;
}

/** At most `maxBytes` of a body, one character per byte. */
export function bodyText(body: Uint8Array, maxBytes: number): string {
  const view = body.length > maxBytes ? body.subarray(0, maxBytes) : body;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('latin1');
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function isHexRun(text: string, from: number, length: number): boolean {
  for (let i = from; i < from + length; i++) if (!isHex(text.charCodeAt(i))) return false;
  return true;
}
