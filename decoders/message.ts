// Records a protocol decoder hands to the pipeline. Decoders are pure: they see
// bytes with the monotonic time they were captured at and never do I/O.

/** A header field as it appeared on the wire (name case preserved for HTTP/1). */
export type HeaderField = [name: string, value: string];

/** A decode problem. Decoders report these, resynchronise and carry on; they never throw. */
export interface DecodeError {
  /** Stable code, `FLOWSCOPE_ERR_<PROTOCOL>_<WHAT>`. */
  code: string;
  /** Byte offset within the direction's stream where the problem was found. */
  offset: number;
  message: string;
}

export interface HttpMessageBase {
  /** Raw header fields in wire order. Lookups go through `headerValue`. */
  headers: HeaderField[];
  /** Bytes of start line + header block (HTTP/1) or header block fragments (HTTP/2). */
  headerBytes: number;
  /** Body payload length: for chunked HTTP/1 the decoded length (chunk framing excluded). */
  bodyBytes: number;
  /** Captured prefix of the body, at most the decoder's body limit; absent when none was kept. */
  body?: Uint8Array;
  /** `body` is shorter than the body (the keep limit, or bytes never seen). */
  bodyTruncated: boolean;
  /** Body bytes the decoder never saw (sendfile, capture cap, lost records); absent means 0. */
  bodyMissing?: number;
  /** Trailer fields, where the decoder keeps them. */
  trailers?: HeaderField[];
  /** Monotonic ns of the chunk holding the first byte / the last byte of the message. */
  startNs: number;
  endNs: number;
  /** Stream offsets of the first byte and one past the last byte. */
  startOffset: number;
  endOffset: number;
}

export interface HttpRequest extends HttpMessageBase {
  type: 'request';
  method: string;
  /** Request target as sent (origin-form path + query, or absolute-form). */
  target: string;
  version: string;
}

export interface HttpResponse extends HttpMessageBase {
  type: 'response';
  status: number;
  reason: string;
  version: string;
}

export type HttpMessage = HttpRequest | HttpResponse;

/** Case-insensitive lookup of the first header with this name. */
export function headerValue(headers: HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [n, v] of headers) {
    if (n.length === lower.length && equalsLowered(n, lower)) return v;
  }
  return undefined;
}

/** `n.toLowerCase() === lower` without a lower-cased copy of every name (ASCII names, the rule). */
function equalsLowered(n: string, lower: string): boolean {
  for (let i = 0; i < n.length; i++) {
    let c = n.charCodeAt(i);
    if (c >= 128) return n.toLowerCase() === lower; // Unicode case rules from here on
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}
