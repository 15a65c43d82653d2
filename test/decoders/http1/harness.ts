// Test harness: runs fixture streams through Http1Decoder the way the pipeline does.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DecodeError, HttpMessage } from '../../../decoders/message.js';
import { Http1Decoder, type Http1DecoderOptions } from '../../../decoders/http1/http1-decoder.js';

export const fixtureDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/http1');

export interface Fixture {
  name: string;
  req: Uint8Array;
  res: Uint8Array;
}

export function loadFixtures(): Fixture[] {
  return readdirSync(fixtureDir)
    .filter((f) => f.endsWith('.req.bin'))
    .sort()
    .map((f) => {
      const name = f.slice(0, -'.req.bin'.length);
      return {
        name,
        req: new Uint8Array(readFileSync(path.join(fixtureDir, `${name}.req.bin`))),
        res: new Uint8Array(readFileSync(path.join(fixtureDir, `${name}.res.bin`))),
      };
    });
}

export interface Decoded {
  messages: HttpMessage[];
  errors: DecodeError[];
  /** Largest bufferedBytes seen after any call. */
  maxBuffered: number;
  stopped: boolean;
}

/** Piece boundaries: the stream is cut at each listed position (sorted, within range). */
export type Cuts = readonly number[];

export interface RunOptions extends Partial<Omit<Http1DecoderOptions, 'side' | 'onMessage' | 'onError'>> {
  cuts?: Cuts;
  /**
   * Request side: called after the push that emitted a request which makes the decoder hold
   * bytes (Upgrade / CONNECT); returns whether the server switched protocols. Without it the
   * decoder is left holding.
   */
  switched?: (requestIndex: number) => boolean;
  /** Call end() after the last byte (default true). */
  close?: boolean;
}

export function decode(side: 'request' | 'response', bytes: Uint8Array, opts: RunOptions = {}): Decoded {
  const messages: HttpMessage[] = [];
  const errors: DecodeError[] = [];
  let heldAfter: number | undefined;
  const { cuts = [], switched, close = true, ...rest } = opts;
  const dec = new Http1Decoder({
    ...rest,
    side,
    onMessage: (m) => {
      messages.push(m);
      if (m.type === 'request' && (m.method === 'CONNECT' || m.headers.some(([n]) => n.toLowerCase() === 'upgrade'))) {
        heldAfter = messages.length - 1;
      }
    },
    onError: (e) => errors.push(e),
  });
  let maxBuffered = 0;
  let from = 0;
  const points = [...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length];
  for (const to of points) {
    if (to <= from) continue;
    // Time of a piece is its start position, so startNs/endNs say which piece held a byte.
    dec.push(bytes.subarray(from, to), from);
    from = to;
    maxBuffered = Math.max(maxBuffered, dec.bufferedBytes);
    if (heldAfter !== undefined) {
      const idx = heldAfter;
      heldAfter = undefined;
      if (switched) {
        if (switched(idx)) dec.stop();
        else dec.resume();
      }
      maxBuffered = Math.max(maxBuffered, dec.bufferedBytes);
    }
  }
  if (close) dec.end(bytes.length);
  return { messages, errors, maxBuffered, stopped: dec.stopped };
}

/** Decodes both directions of a recorded connection, pairing responses with requests. */
export function decodeConnection(fx: Fixture, reqCuts: Cuts = [], resCuts: Cuts = [], extra: RunOptions = {}) {
  // Methods first (ignoring upgrades), then responses, then requests again with the answers.
  const methods = decode('request', fx.req, { ...extra, switched: () => false }).messages.map((m) => (m.type === 'request' ? m.method : ''));
  let next = 0;
  const res = decode('response', fx.res, { ...extra, cuts: resCuts, requestMethod: () => methods[next++] });
  const finals = res.messages.filter((m) => m.type === 'response' && (m.status >= 200 || m.status === 101));
  const req = decode('request', fx.req, {
    ...extra,
    cuts: reqCuts,
    switched: (i) => {
      const r = finals[i];
      return r?.type === 'response' && (r.status === 101 || (methods[i] === 'CONNECT' && r.status < 300));
    },
  });
  return { req, res };
}

/** Messages with times replaced, for comparing runs whose pieces differ. */
export function withoutTimes(ms: HttpMessage[]) {
  return ms.map(({ startNs: _s, endNs: _e, ...m }) => m);
}

const enc = new TextEncoder();
export const bytes = (s: string) => enc.encode(s);
export const concatBytes = (...parts: (Uint8Array | string)[]) => {
  const arrs = parts.map((p) => (typeof p === 'string' ? enc.encode(p) : p));
  const out = new Uint8Array(arrs.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrs) {
    out.set(a, at);
    at += a.length;
  }
  return out;
};
