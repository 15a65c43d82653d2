// Decoding a JWT's header and payload for inspection only: no signature
// check, bounded sizes, and no input makes it throw.

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** Characters of the signature part (0 for an unsigned token). */
  signatureLength: number;
}

const MAX_HEADER_CHARS = 2048;
const MAX_PAYLOAD_CHARS = 8192;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** The decoded header and payload, or undefined when the token is not a well-formed JWT. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (first <= 0 || second < 0 || token.indexOf('.', second + 1) >= 0) return undefined;
  const headerPart = token.slice(0, first);
  const payloadPart = token.slice(first + 1, second);
  if (headerPart.length > MAX_HEADER_CHARS || payloadPart.length > MAX_PAYLOAD_CHARS) return undefined;
  const header = decodeJsonPart(headerPart);
  const payload = decodeJsonPart(payloadPart);
  if (!header || !payload) return undefined;
  return { header, payload, signatureLength: token.length - second - 1 };
}

function decodeJsonPart(part: string): Record<string, unknown> | undefined {
  if (part.length === 0 || !BASE64URL.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
