import { describe, expect, it } from 'vitest';
import { FrameParser, FrameType } from '../../../decoders/http2/frame-parser.js';
import type { FrameEvent, FrameInfo, FrameParserOptions } from '../../../decoders/http2/frame-parser.js';
import { Http2ErrorCode } from '../../../decoders/http2/errors.js';
import { CLIENT_PREFACE, END_HEADERS, END_STREAM, PADDED, PRIORITY, bytes, frame, requestBlock, settingsFrame } from './h2-builders.js';

interface Run {
  events: FrameEvent[];
  frames: FrameInfo[];
  errors: { code: string; offset: number }[];
  parser: FrameParser;
  maxBuffered: number;
}

/** Events with DATA pieces merged per frame and blocks copied, so split runs compare equal. */
function normalise(events: FrameEvent[]): unknown[] {
  const out: unknown[] = [];
  let data: number[] | undefined;
  for (const e of events) {
    if (e.kind === 'data') {
      data = [...(data ?? []), ...e.payload];
      if (e.last) {
        out.push({ kind: 'data', streamId: e.frame.streamId, flags: e.frame.flags, payload: data, endOffset: e.endOffset });
        data = undefined;
      }
    } else if (e.kind === 'headers') {
      out.push({ ...e, endNs: 0, frame: { ...e.frame, timeNs: 0 }, block: e.block ? [...e.block] : undefined });
    } else {
      out.push({ ...e, endNs: 0, frame: { ...e.frame, timeNs: 0 } });
    }
  }
  return out;
}

function parse(input: Uint8Array, cuts: number[] = [], options: Partial<FrameParserOptions> = {}): Run {
  const events: FrameEvent[] = [];
  const frames: FrameInfo[] = [];
  const errors: { code: string; offset: number }[] = [];
  const parser = new FrameParser({
    side: 'client',
    startsAtConnectionStart: true,
    ...options,
    onEvent: (e) => {
      // Views are only valid during the callback.
      if (e.kind === 'data') events.push({ ...e, payload: e.payload.slice() });
      else if (e.kind === 'headers') events.push({ ...e, block: e.block?.slice() });
      else events.push(e);
    },
    onFrame: (f) => frames.push(f),
    onError: (code, offset) => errors.push({ code, offset }),
  });
  let at = 0;
  let maxBuffered = 0;
  for (const cut of [...cuts, input.length]) {
    parser.push(input.subarray(at, cut), at);
    maxBuffered = Math.max(maxBuffered, parser.bufferedBytes);
    at = cut;
  }
  parser.end(input.length);
  return { events, frames, errors, parser, maxBuffered };
}

const block = Uint8Array.from(requestBlock('/a'));

const everyFrameType = bytes(
  CLIENT_PREFACE,
  settingsFrame([[1, 65536], [4, 1 << 20]]),
  settingsFrame([], true),
  frame(FrameType.WINDOW_UPDATE, 0, 0, [0, 0x0f, 0, 1]),
  frame(FrameType.PRIORITY, 0, 3, [0x80, 0, 0, 1, 200]),
  frame(FrameType.HEADERS, END_HEADERS | PADDED | PRIORITY, 1, bytes([3], [0, 0, 0, 0, 15], block, [0, 0, 0])),
  frame(FrameType.DATA, PADDED, 1, bytes([2], 'hello', [0, 0])),
  frame(FrameType.DATA, END_STREAM, 1, bytes('!')),
  frame(0x42, 0xff, 7, bytes('unknown frame type')),
  frame(FrameType.HEADERS, 0, 5, block.subarray(0, 4)),
  frame(FrameType.CONTINUATION, 0, 5, block.subarray(4, 9)),
  frame(FrameType.CONTINUATION, END_HEADERS, 5, block.subarray(9)),
  frame(FrameType.RST_STREAM, 0, 5, [0, 0, 0, 8]),
  frame(FrameType.PING, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]),
  frame(FrameType.GOAWAY, 0, 0, bytes([0, 0, 0, 5, 0, 0, 0, 0], 'debug data')),
);

describe('FrameParser', () => {
  it('parses every frame type after the client preface', () => {
    const run = parse(everyFrameType);
    expect(run.errors).toEqual([]);
    expect(run.frames.map((f) => f.type)).toEqual([4, 4, 8, 2, 1, 0, 0, 0x42, 1, 9, 9, 3, 6, 7]);
    // DATA comes in pieces; the last piece of each frame is marked.
    const kinds = run.events.filter((e) => e.kind !== 'data' || e.last).map((e) => e.kind);
    expect(kinds).toEqual(['settings', 'settings', 'window-update', 'priority', 'headers', 'data', 'data', 'unknown', 'headers', 'rst-stream', 'ping', 'goaway']);
    const [settings, ack, window, priority, headers1, data1, data2, , headers5, rst, ping, goaway] = normalise(run.events) as FrameEvent[];
    expect(settings).toMatchObject({ kind: 'settings', ack: false, settings: [[1, 65536], [4, 1 << 20]] });
    expect(ack).toMatchObject({ kind: 'settings', ack: true, settings: [] });
    expect(window).toMatchObject({ increment: 0x0f0001 });
    expect(priority).toMatchObject({ priority: { exclusive: true, dependsOn: 1, weight: 201 } });
    expect(headers1).toMatchObject({ endStream: false, priority: { exclusive: false, dependsOn: 0, weight: 16 }, blockBytes: block.length });
    expect([...(headers1 as { block: Uint8Array }).block]).toEqual([...block]);
    expect(data1).toMatchObject({ streamId: 1, payload: [...new TextEncoder().encode('hello')] });
    expect(data2).toMatchObject({ flags: END_STREAM, payload: [0x21] });
    expect([...(headers5 as { block: Uint8Array }).block]).toEqual([...block]);
    expect(headers5).toMatchObject({ frame: { streamId: 5 }, blockBytes: block.length });
    expect(rst).toMatchObject({ errorCode: 8 });
    expect(ping).toMatchObject({ ack: false });
    expect(goaway).toMatchObject({ lastStreamId: 5, errorCode: 0 });
  });

  it('gives the same frames whole and split at every byte', () => {
    const whole = normalise(parse(everyFrameType).events);
    for (let k = 1; k < everyFrameType.length; k++) {
      const run = parse(everyFrameType, [k]);
      expect(run.errors).toEqual([]);
      expect(normalise(run.events)).toEqual(whole);
    }
  });

  it('gives the same frames pushed one byte at a time', () => {
    const cuts = Array.from({ length: everyFrameType.length - 1 }, (_, i) => i + 1);
    expect(normalise(parse(everyFrameType, cuts).events)).toEqual(normalise(parse(everyFrameType).events));
  });

  it('reports a bad preface and finds the frames after it', () => {
    const input = bytes('GET / HTTP/1.1\r\n\r\n', settingsFrame([]), frame(FrameType.HEADERS, END_HEADERS | END_STREAM, 1, block), settingsFrame([], true));
    const run = parse(input);
    expect(run.errors[0]!.code).toBe(Http2ErrorCode.BAD_PREFACE);
    expect(run.events.map((e) => e.kind)).toEqual(['settings', 'headers', 'settings']);
  });

  it('reports a frame above SETTINGS_MAX_FRAME_SIZE and keeps framing', () => {
    const big = new Uint8Array(20000);
    const input = bytes(CLIENT_PREFACE, frame(FrameType.DATA, 0, 1, big), frame(FrameType.PING, 0, 0, new Uint8Array(8)));
    const run = parse(input);
    expect(run.errors.map((e) => e.code)).toEqual([Http2ErrorCode.FRAME_TOO_LARGE]);
    expect(run.events.at(-1)!.kind).toBe('ping');
    // DATA is streamed, not buffered.
    expect(run.maxBuffered).toBeLessThan(100);
  });

  it('accepts larger frames once the receiver announced a larger SETTINGS_MAX_FRAME_SIZE', () => {
    const input = bytes(CLIENT_PREFACE, frame(FrameType.DATA, 0, 1, new Uint8Array(20000)));
    const events: FrameEvent[] = [];
    const errors: string[] = [];
    const parser = new FrameParser({ side: 'client', startsAtConnectionStart: true, onEvent: (e) => events.push(e), onError: (c) => errors.push(c) });
    parser.allowMaxFrameSize(1 << 20);
    parser.push(input, 0);
    expect(errors).toEqual([]);
  });

  it('reports fixed-size frames with the wrong length and carries on', () => {
    const input = bytes(
      CLIENT_PREFACE,
      frame(FrameType.PING, 0, 0, [1, 2, 3]),
      frame(FrameType.RST_STREAM, 0, 1, [0, 0]),
      frame(FrameType.SETTINGS, 0, 0, [0, 1, 0]),
      frame(FrameType.WINDOW_UPDATE, 0, 0, [0, 0, 0, 1, 0]),
      frame(FrameType.PING, 1, 0, new Uint8Array(8)),
    );
    const run = parse(input);
    expect(run.errors.map((e) => e.code)).toEqual(Array(4).fill(Http2ErrorCode.FRAME_SIZE));
    expect(run.events.map((e) => e.kind)).toEqual(['ping']);
  });

  it('reports frames on the wrong stream', () => {
    const input = bytes(CLIENT_PREFACE, frame(FrameType.DATA, 0, 0, [1]), frame(FrameType.SETTINGS, 0, 3, []), frame(FrameType.PING, 0, 1, new Uint8Array(8)));
    expect(parse(input).errors.map((e) => e.code)).toEqual(Array(3).fill(Http2ErrorCode.BAD_STREAM_ID));
  });

  it('reports DATA padding longer than the frame', () => {
    const run = parse(bytes(CLIENT_PREFACE, frame(FrameType.DATA, PADDED, 1, [9, 1, 2]), frame(FrameType.PING, 0, 0, new Uint8Array(8))));
    expect(run.errors.map((e) => e.code)).toEqual([Http2ErrorCode.BAD_PADDING]);
    expect(run.events.map((e) => e.kind)).toEqual(['data', 'ping']);
  });

  it('reports a header block interrupted by another frame as a block that was not kept', () => {
    const input = bytes(CLIENT_PREFACE, frame(FrameType.HEADERS, 0, 1, block.subarray(0, 3)), frame(FrameType.PING, 0, 0, new Uint8Array(8)));
    const run = parse(input);
    expect(run.errors.map((e) => e.code)).toEqual([Http2ErrorCode.CONTINUATION_EXPECTED]);
    expect(run.events[0]).toMatchObject({ kind: 'headers', block: undefined });
    expect(run.events[1]!.kind).toBe('ping');
  });

  it('reports CONTINUATION without a header block', () => {
    expect(parse(bytes(CLIENT_PREFACE, frame(FrameType.CONTINUATION, END_HEADERS, 1, [0x82]))).errors.map((e) => e.code)).toEqual([
      Http2ErrorCode.CONTINUATION_EXPECTED,
    ]);
  });

  it('stops collecting an endless CONTINUATION sequence and keeps memory bounded', () => {
    const parts: Uint8Array[] = [CLIENT_PREFACE, frame(FrameType.HEADERS, 0, 1, new Uint8Array(1000))];
    for (let i = 0; i < 2000; i++) parts.push(frame(FrameType.CONTINUATION, 0, 1, new Uint8Array(1000)));
    const input = bytes(...parts);
    const cuts = Array.from({ length: Math.floor(input.length / 4096) }, (_, i) => (i + 1) * 4096);
    const run = parse(input, cuts, { maxHeaderBlockBytes: 16384 });
    expect(run.errors.map((e) => e.code)).toEqual([Http2ErrorCode.HEADER_BLOCK_TOO_LARGE, Http2ErrorCode.TRUNCATED]);
    expect(run.maxBuffered).toBeLessThan(16384 + 4096);
    expect(run.events).toEqual([expect.objectContaining({ kind: 'headers', block: undefined })]);
  });

  it('stops collecting a flood of empty CONTINUATION frames', () => {
    const parts: Uint8Array[] = [CLIENT_PREFACE, frame(FrameType.HEADERS, 0, 1, [0x82])];
    for (let i = 0; i < 1000; i++) parts.push(frame(FrameType.CONTINUATION, 0, 1));
    parts.push(frame(FrameType.CONTINUATION, END_HEADERS, 1));
    const run = parse(bytes(...parts));
    expect(run.errors.map((e) => e.code)).toEqual([Http2ErrorCode.HEADER_BLOCK_TOO_LARGE]);
    expect(run.events).toEqual([expect.objectContaining({ kind: 'headers', block: undefined })]);
  });

  it('finds the next frame header after a gap', () => {
    const before = bytes(CLIENT_PREFACE, frame(FrameType.DATA, 0, 1, new Uint8Array(100)));
    const after = bytes(settingsFrame([], true), frame(FrameType.PING, 0, 0, new Uint8Array(8)));
    const events: FrameEvent[] = [];
    const errors: string[] = [];
    const parser = new FrameParser({ side: 'client', startsAtConnectionStart: true, onEvent: (e) => events.push(e), onError: (c) => errors.push(c) });
    parser.push(before.subarray(0, before.length - 40), 1);
    parser.gap(40, 2);
    // Garbage, then real frames.
    parser.push(bytes([0xde, 0xad, 0xbe, 0xef, 0x01]), 3);
    parser.push(after, 4);
    parser.end(5);
    expect(errors).toEqual([Http2ErrorCode.GAP, Http2ErrorCode.RESYNC_DISCARD]);
    expect(events.filter((e) => e.kind !== 'data').map((e) => e.kind)).toEqual(['settings', 'ping']);
    expect(parser.offset).toBe(before.length + 5 + after.length);
  });

  it('starts in the middle of a connection by looking for frame headers', () => {
    const stream = bytes(frame(FrameType.DATA, 0, 1, new Uint8Array(50).fill(7)), frame(FrameType.HEADERS, END_HEADERS, 3, block), settingsFrame([], true));
    const run = parse(stream.subarray(20), [], { startsAtConnectionStart: false });
    expect(run.events.map((e) => e.kind)).toEqual(['headers', 'settings']);
    expect(run.errors.map((e) => e.code)).toEqual([Http2ErrorCode.RESYNC_DISCARD]);
  });

  it('reports a connection that ends inside a frame', () => {
    const input = bytes(CLIENT_PREFACE, frame(FrameType.PING, 0, 0, new Uint8Array(8)));
    expect(parse(input.subarray(0, input.length - 3)).errors.map((e) => e.code)).toEqual([Http2ErrorCode.TRUNCATED]);
  });
});
