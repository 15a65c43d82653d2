// Which way a connection first seen mid-stream runs, from its HTTP/2 frames:
// the first HEADERS frame's header block starts with a pseudo-header field, and
// requests (:method, :path, :scheme, :authority) and responses (:status) name
// theirs from disjoint parts of the static table (RFC 7541 Appendix A) in
// every encoder seen in practice. Pure: bytes in, a hint out.

const FRAME_HEADER = 9;
const TYPE_HEADERS = 1;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** Frames walked before giving up on a chunk. */
const MAX_FRAMES = 64;

/**
 * 'request' or 'response' when `bytes` starts at a frame boundary and holds a
 * HEADERS frame whose first field names a request or a response pseudo-header;
 * undefined when it cannot tell (mid-frame start, no HEADERS yet, a field
 * from the dynamic table).
 */
export function http2MessageKind(bytes: Uint8Array): 'request' | 'response' | undefined {
  let at = 0;
  for (let frames = 0; frames < MAX_FRAMES && at + FRAME_HEADER <= bytes.length; frames++) {
    const length = ((bytes[at] as number) << 16) | ((bytes[at + 1] as number) << 8) | (bytes[at + 2] as number);
    const type = bytes[at + 3] as number;
    const flags = bytes[at + 4] as number;
    if (type === TYPE_HEADERS) {
      let block = at + FRAME_HEADER;
      if (flags & FLAG_PADDED) block += 1;
      if (flags & FLAG_PRIORITY) block += 5;
      return block < Math.min(bytes.length, at + FRAME_HEADER + length) ? kindOfField(bytes, block) : undefined;
    }
    at += FRAME_HEADER + length;
  }
  return undefined;
}

/** The static-table name index of the field representation at `at`, skipping leading table size updates. */
function kindOfField(bytes: Uint8Array, at: number): 'request' | 'response' | undefined {
  // Dynamic table size updates (001xxxxx) may come first; a one-byte one is skipped.
  while (at < bytes.length && ((bytes[at] as number) & 0xe0) === 0x20 && ((bytes[at] as number) & 0x1f) !== 0x1f) at++;
  if (at >= bytes.length) return undefined;
  const b = bytes[at] as number;
  let index: number;
  if (b & 0x80) index = b & 0x7f; // indexed field
  else if (b & 0x40) index = b & 0x3f; // literal with incremental indexing
  else if ((b & 0xe0) === 0) index = b & 0x0f; // literal without / never indexed
  else return undefined;
  if (index >= 1 && index <= 7) return 'request'; // :authority, :method, :path, :scheme
  if (index >= 8 && index <= 14) return 'response'; // :status
  return undefined;
}
