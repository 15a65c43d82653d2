// gRPC length-prefixed messages (1 byte compressed flag, 4 bytes big-endian length,
// payload) out of a captured HTTP/2 body, decompressed when flagged. Bounded: at most
// `maxMessages` messages and `maxMessageBytes` per decompressed message.
import { gunzipSync, inflateSync } from 'node:zlib';

export const DEFAULT_MAX_MESSAGES = 64;
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;

export type GrpcMessage =
  | { ok: true; compressed: boolean; payload: Uint8Array }
  /** Why this message's payload is not available (cut by the capture, unknown compression, bad gzip, too large). */
  | { ok: false; compressed: boolean; length: number; reason: 'truncated' | 'unsupported-encoding' | 'decompress-failed' | 'too-large' };

export interface GrpcMessageOptions {
  /** grpc-encoding of the direction (identity when absent). */
  encoding?: string;
  maxMessages?: number;
  maxMessageBytes?: number;
}

export function grpcMessages(body: Uint8Array, options: GrpcMessageOptions = {}): GrpcMessage[] {
  const maxMessages = options.maxMessages ?? DEFAULT_MAX_MESSAGES;
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const encoding = (options.encoding ?? 'identity').trim().toLowerCase();
  const out: GrpcMessage[] = [];
  let at = 0;
  while (at + 5 <= body.length && out.length < maxMessages) {
    const compressed = (body[at]! & 1) === 1;
    const length = ((body[at + 1]! << 24) | (body[at + 2]! << 16) | (body[at + 3]! << 8) | body[at + 4]!) >>> 0;
    at += 5;
    if (at + length > body.length) {
      out.push({ ok: false, compressed, length, reason: 'truncated' });
      break;
    }
    const raw = body.subarray(at, at + length);
    at += length;
    if (!compressed) {
      out.push(length > maxBytes ? { ok: false, compressed, length, reason: 'too-large' } : { ok: true, compressed, payload: raw });
      continue;
    }
    if (encoding !== 'gzip' && encoding !== 'deflate') {
      out.push({ ok: false, compressed, length, reason: 'unsupported-encoding' });
      continue;
    }
    try {
      // maxOutputLength bounds a decompression bomb: it throws past the cap.
      const inflate = encoding === 'gzip' ? gunzipSync : inflateSync;
      out.push({ ok: true, compressed, payload: new Uint8Array(inflate(raw, { maxOutputLength: maxBytes })) });
    } catch (err) {
      const tooLarge = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
      out.push({ ok: false, compressed, length, reason: tooLarge ? 'too-large' : 'decompress-failed' });
    }
  }
  return out;
}
