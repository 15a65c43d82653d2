import { describe, expect, it } from 'vitest';
import { http2MessageKind } from '../../../decoders/http2/index.js';

function frame(type: number, flags: number, streamId: number, payload: number[]): number[] {
  const n = payload.length;
  return [n >> 16, (n >> 8) & 0xff, n & 0xff, type, flags, (streamId >>> 24) & 0x7f, (streamId >> 16) & 0xff, (streamId >> 8) & 0xff, streamId & 0xff, ...payload];
}
const HEADERS = 1;
const SETTINGS = 4;
const WINDOW_UPDATE = 8;
const kind = (...frames: number[][]) => http2MessageKind(Uint8Array.from(frames.flat()));

describe('http2MessageKind', () => {
  it('tells a request from a response by the first pseudo-header field', () => {
    expect(kind(frame(HEADERS, 0x05, 3, [0x82, 0x84, 0x86]))).toBe('request'); // :method GET, :path /, :scheme http
    expect(kind(frame(HEADERS, 0x04, 3, [0x83]))).toBe('request'); // :method POST
    expect(kind(frame(HEADERS, 0x04, 3, [0x41, 0x03, 0x61, 0x62, 0x63]))).toBe('request'); // literal :authority
    expect(kind(frame(HEADERS, 0x04, 3, [0x04, 0x01, 0x2f]))).toBe('request'); // literal :path without indexing
    expect(kind(frame(HEADERS, 0x04, 3, [0x88]))).toBe('response'); // :status 200
    expect(kind(frame(HEADERS, 0x04, 3, [0x08, 0x03, 0x34, 0x30, 0x33]))).toBe('response'); // literal :status 403
  });

  it('walks past other frames, padding, priority and a table size update', () => {
    expect(kind(frame(SETTINGS, 0, 0, []), frame(WINDOW_UPDATE, 0, 0, [0, 0, 1, 0]), frame(HEADERS, 0x04, 5, [0x88]))).toBe('response');
    expect(kind(frame(HEADERS, 0x08 | 0x04, 5, [2, 0x82, 0, 0]))).toBe('request'); // pad length 2
    expect(kind(frame(HEADERS, 0x20 | 0x04, 5, [0, 0, 0, 3, 15, 0x82]))).toBe('request'); // priority fields
    expect(kind(frame(HEADERS, 0x04, 5, [0x20, 0x88]))).toBe('response'); // size update to 0 first
  });

  it('cannot tell from a dynamic-table field, a cut frame or bytes that do not start a frame', () => {
    expect(kind(frame(HEADERS, 0x04, 5, [0xbe]))).toBeUndefined(); // dynamic entry 62
    expect(kind(frame(HEADERS, 0x04, 5, [0x8f]))).toBeUndefined(); // static 15: not a pseudo-header
    expect(http2MessageKind(Uint8Array.from(frame(HEADERS, 0x04, 5, [0x82]).slice(0, 9)))).toBeUndefined();
    expect(kind(frame(SETTINGS, 0, 0, []))).toBeUndefined();
    expect(http2MessageKind(new Uint8Array(0))).toBeUndefined();
    expect(http2MessageKind(Uint8Array.from([0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 1]))).toBeUndefined();
  });
});
