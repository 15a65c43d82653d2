// Shared helpers for the HTTP/2 decoder tests: fixture loading and whole / split decoding.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DecodeError } from '../../../decoders/message.js';
import { Http2Decoder } from '../../../decoders/http2/http2-decoder.js';
import type { Http2DecoderOptions, Http2Message } from '../../../decoders/http2/http2-decoder.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/http2/', import.meta.url));

export function fixture(name: string): { client: Uint8Array; server: Uint8Array } {
  return {
    client: new Uint8Array(readFileSync(`${FIXTURES}${name}.client.bin`)),
    server: new Uint8Array(readFileSync(`${FIXTURES}${name}.server.bin`)),
  };
}

export interface Decoded {
  messages: Http2Message[];
  errors: DecodeError[];
  decoder: Http2Decoder;
  maxBuffered: number;
}

type Options = Partial<Omit<Http2DecoderOptions, 'onMessage' | 'onError'>>;

/** Decodes `bytes` pushed in the given pieces (cut points), then ends the direction. */
export function decode(side: 'client' | 'server', bytes: Uint8Array, cuts: number[] = [], options: Options = {}): Decoded {
  const messages: Http2Message[] = [];
  const errors: DecodeError[] = [];
  const decoder = new Http2Decoder({
    side,
    startsAtConnectionStart: true,
    ...options,
    onMessage: (m) => messages.push(m),
    onError: (e) => errors.push(e),
  });
  let maxBuffered = 0;
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    decoder.push(bytes.subarray(at, cut), at);
    maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes);
    at = cut;
  }
  decoder.end(bytes.length);
  return { messages, errors, decoder, maxBuffered };
}

/** The same bytes pushed one chunk per cut point k (two pieces: [0,k) and [k,n)). */
export function* everySplit(n: number): Generator<number[]> {
  for (let k = 1; k < n; k++) yield [k];
}

/** Messages without capture times (they depend on how the bytes were cut), bodies as strings (fast to compare). */
export function timeless(messages: Http2Message[]): unknown[] {
  return messages.map(({ startNs: _s, endNs: _e, body, ...rest }) => ({
    ...rest,
    body: body ? Buffer.from(body.buffer, body.byteOffset, body.length).toString('latin1') : undefined,
  }));
}
