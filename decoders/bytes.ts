// Byte helpers shared by the decoders.

/** The parts joined into one new Uint8Array of `total` bytes; a single part is returned as is. */
export function concatBytes(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Blocks that small copies are carved from; a copy above an eighth of one gets its own. */
const BLOCK_BYTES = 64 * 1024;
let block = new ArrayBuffer(BLOCK_BYTES);
let blockUsed = 0;

/**
 * A new zeroed Uint8Array of `length` bytes. Small ones are views carved from a shared
 * 64 KiB block, as Buffer's pool does: a view costs a tenth of a fresh ArrayBuffer (per
 * captured body, at thousands of messages a second). A view keeps its whole block alive,
 * so this suits short-lived copies, such as body prefixes handed to flow listeners.
 */
export function allocBytes(length: number): Uint8Array {
  if (length > BLOCK_BYTES >> 3) return new Uint8Array(length);
  if (blockUsed + length > BLOCK_BYTES) {
    block = new ArrayBuffer(BLOCK_BYTES);
    blockUsed = 0;
  }
  const out = new Uint8Array(block, blockUsed, length);
  blockUsed += (length + 7) & ~7; // 8-byte aligned, like the pool
  return out;
}
