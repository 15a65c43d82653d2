// HTTP/2 framing (RFC 9113 §4, §6) for one direction of one connection: a resumable
// state machine fed with chunks of any size. It reassembles header blocks (HEADERS or
// PUSH_PROMISE + CONTINUATION) up to a cap, streams DATA payloads without buffering them,
// and after lost bytes hunts for a plausible frame header to carry on from.
import { Http2ErrorCode } from './errors.js';

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const FrameFlag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` */
export const CLIENT_PREFACE = new Uint8Array([
  0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x32, 0x2e, 0x30, 0x0d, 0x0a, 0x0d, 0x0a, 0x53, 0x4d,
  0x0d, 0x0a, 0x0d, 0x0a,
]);

export const FRAME_HEADER_LENGTH = 9;
/** SETTINGS_MAX_FRAME_SIZE before any SETTINGS frame. */
export const DEFAULT_MAX_FRAME_SIZE = 16384;
/** The 24-bit length field: no frame is ever larger (16 MiB - 1). */
export const MAX_FRAME_SIZE_CEILING = 2 ** 24 - 1;
export const DEFAULT_MAX_HEADER_BLOCK_BYTES = 65536;
/** CONTINUATION frames allowed in one header block (zero-length floods cost CPU). */
export const DEFAULT_MAX_CONTINUATION_FRAMES = 256;
/** How far to look for a frame header after lost bytes before dropping the oldest. */
const HUNT_WINDOW = 65536;
/** Only this much of a SETTINGS frame (64 settings) or GOAWAY frame is kept. */
const MAX_SETTINGS_BYTES = 384;
const GOAWAY_FIXED_BYTES = 8;

/** One frame as seen on the wire. */
export interface FrameInfo {
  type: number;
  flags: number;
  streamId: number;
  /** Payload length from the frame header. */
  length: number;
  /** Stream offset of the first byte of the frame header. */
  offset: number;
  /** Capture time of the chunk holding the frame's first byte. */
  timeNs: number;
  /** SETTINGS only: the settings it carries, in order. */
  settings?: ReadonlyArray<readonly [id: number, value: number]>;
}

interface EventBase {
  frame: FrameInfo;
  /** Stream offset one past the last byte covered by the event, and that byte's capture time. */
  endOffset: number;
  endNs: number;
}

export interface PriorityInfo {
  exclusive: boolean;
  dependsOn: number;
  weight: number;
}

export type FrameEvent =
  | (EventBase & {
      kind: 'data';
      /** Payload bytes without padding; a view valid only during the callback. */
      payload: Uint8Array;
      /** The last piece of this DATA frame (exactly one per frame; END_STREAM applies then). */
      last: boolean;
    })
  | (EventBase & {
      kind: 'headers';
      /** The HEADERS or PUSH_PROMISE frame that opened the block. */
      frame: FrameInfo;
      /** Complete header block; undefined when it was not kept (too large, interrupted). A view valid during the callback. */
      block: Uint8Array | undefined;
      /** Header block fragment bytes on the wire (without padding and priority fields). */
      blockBytes: number;
      endStream: boolean;
      priority?: PriorityInfo;
      /** PUSH_PROMISE only. */
      promisedStreamId?: number;
    })
  | (EventBase & { kind: 'priority'; priority: PriorityInfo })
  | (EventBase & { kind: 'rst-stream'; errorCode: number })
  | (EventBase & { kind: 'settings'; ack: boolean; settings: ReadonlyArray<readonly [number, number]> })
  | (EventBase & { kind: 'ping'; ack: boolean })
  | (EventBase & { kind: 'goaway'; lastStreamId: number; errorCode: number })
  | (EventBase & { kind: 'window-update'; increment: number })
  | (EventBase & { kind: 'unknown' });

export interface FrameParserOptions {
  /** Which side sent these bytes: the client starts with the preface and opens odd streams. */
  side: 'client' | 'server';
  /** False: the bytes do not start at the connection start, so look for a frame header first. */
  startsAtConnectionStart: boolean;
  onEvent: (event: FrameEvent) => void;
  /** A complete frame was parsed (after its events). */
  onFrame?: (frame: FrameInfo) => void;
  onError: (code: Http2ErrorCode, offset: number, message: string) => void;
  /** SETTINGS_MAX_FRAME_SIZE the receiving side announced; default 16384. */
  maxFrameSize?: number;
  maxHeaderBlockBytes?: number;
  maxContinuationFrames?: number;
}

const enum State {
  Preface,
  Header,
  Buffer,
  Data,
  Skip,
  Hunt,
}

const enum BlockState {
  None,
  Collecting,
  /** Too large or broken: swallow CONTINUATION frames until END_HEADERS. */
  Discarding,
}

export class FrameParser {
  readonly #side: 'client' | 'server';
  readonly #onEvent: (event: FrameEvent) => void;
  readonly #onFrame: ((frame: FrameInfo) => void) | undefined;
  readonly #onError: (code: Http2ErrorCode, offset: number, message: string) => void;
  readonly #maxHeaderBlockBytes: number;
  readonly #maxContinuationFrames: number;
  #maxFrameSize: number;

  #state: State;
  /** Stream offset of the next byte to be consumed. */
  #offset = 0;
  #prefaceMatched = 0;

  // Frame header being read.
  readonly #header = new Uint8Array(FRAME_HEADER_LENGTH);
  #headerLength = 0;
  #frame: FrameInfo = { type: 0, flags: 0, streamId: 0, length: 0, offset: 0, timeNs: 0 };

  // Payload kept for a non-DATA frame.
  #payload = new Uint8Array(0);
  #payloadLength = 0;
  #payloadNeeded = 0;
  /** A view of the payload when it arrived whole inside one chunk (no copy). */
  #payloadView: Uint8Array | undefined;
  /** Bytes to drop after the kept part. */
  #skipRemaining = 0;
  /** What to do once the kept part and the skipped part are through. */
  #afterPayload: 'complete' | 'none' = 'none';

  // DATA frame streaming.
  #dataPadPending = false;
  #dataRemaining = 0;
  #padRemaining = 0;

  // Header block reassembly.
  #blockState = BlockState.None;
  #block = new Uint8Array(0);
  #blockLength = 0;
  #blockFrame: FrameInfo | undefined;
  #blockEndStream = false;
  #blockPriority: PriorityInfo | undefined;
  #blockPromised: number | undefined;
  #blockWireBytes = 0;
  #blockFrames = 0;

  // Resynchronisation.
  #hunt = new Uint8Array(0);
  #huntLength = 0;
  #huntOffset = 0;
  #replay: Uint8Array | undefined;

  constructor(options: FrameParserOptions) {
    this.#side = options.side;
    this.#onEvent = options.onEvent;
    this.#onFrame = options.onFrame;
    this.#onError = options.onError;
    this.#maxFrameSize = clampFrameSize(options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE);
    this.#maxHeaderBlockBytes = options.maxHeaderBlockBytes ?? DEFAULT_MAX_HEADER_BLOCK_BYTES;
    this.#maxContinuationFrames = options.maxContinuationFrames ?? DEFAULT_MAX_CONTINUATION_FRAMES;
    if (!options.startsAtConnectionStart) this.#state = State.Hunt;
    else this.#state = options.side === 'client' ? State.Preface : State.Header;
  }

  /** Stream offset of the next byte expected. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes held between pushes: partial frames, header block, resync window. */
  get bufferedBytes(): number {
    return this.#headerLength + (this.#payloadView ? 0 : this.#payloadLength) + this.#blockLength + this.#huntLength;
  }

  /** True while looking for a frame header (framing unknown). */
  get resynchronising(): boolean {
    return this.#state === State.Hunt;
  }

  /** The receiving side announced SETTINGS_MAX_FRAME_SIZE; only ever raises the limit (directions are not ordered). */
  allowMaxFrameSize(size: number): void {
    this.#maxFrameSize = Math.max(this.#maxFrameSize, clampFrameSize(size));
  }

  push(chunk: Uint8Array, timeNs: number): void {
    // Very large chunks go through in slices so the resync window stays bounded.
    for (let start = 0; start < chunk.length; start += HUNT_WINDOW) {
      this.#consume(chunk.subarray(start, Math.min(chunk.length, start + HUNT_WINDOW)), timeNs);
      while (this.#replay) {
        const replay = this.#replay;
        this.#replay = undefined;
        this.#consume(replay, timeNs);
      }
    }
  }

  /** `length` bytes were lost: framing is gone until a plausible frame header turns up. */
  gap(length: number, timeNs: number): void {
    const at = this.#offset;
    this.#abandonFrame();
    this.#offset = at + length;
    this.#onError(Http2ErrorCode.GAP, at, `${length} bytes lost; looking for the next frame header`);
    this.#enterHunt();
    void timeNs;
  }

  /** The direction ended. Reports a frame or header block cut short. */
  end(timeNs: number): void {
    void timeNs;
    if (this.#state === State.Hunt) {
      if (this.#huntLength > 0) {
        this.#onError(Http2ErrorCode.RESYNC_DISCARD, this.#huntOffset, `${this.#huntLength} bytes at the end were not framed`);
      }
      this.#huntLength = 0;
      return;
    }
    const midPreface = this.#state === State.Preface && this.#prefaceMatched > 0;
    const midFrame = this.#state !== State.Preface && (this.#headerLength > 0 || this.#state !== State.Header);
    if (midPreface || midFrame || this.#blockState !== BlockState.None) {
      this.#onError(Http2ErrorCode.TRUNCATED, this.#offset, 'connection ended inside a frame or header block');
    }
    this.#abandonFrame();
  }

  #consume(chunk: Uint8Array, timeNs: number): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.#state) {
        case State.Preface: {
          const take = Math.min(n - i, CLIENT_PREFACE.length - this.#prefaceMatched);
          for (let k = 0; k < take; k++) {
            if (chunk[i + k] !== CLIENT_PREFACE[this.#prefaceMatched + k]) {
              // The matched part is dropped; frames are looked for from the first byte that differs.
              this.#offset += k;
              i += k;
              this.#onError(Http2ErrorCode.BAD_PREFACE, this.#offset, 'client bytes do not start with the HTTP/2 preface');
              this.#prefaceMatched = 0;
              this.#enterHunt();
              break;
            }
          }
          if (this.#state !== State.Preface) break;
          this.#prefaceMatched += take;
          this.#offset += take;
          i += take;
          if (this.#prefaceMatched === CLIENT_PREFACE.length) this.#state = State.Header;
          break;
        }
        case State.Header: {
          if (this.#headerLength === 0) {
            this.#frame = { type: 0, flags: 0, streamId: 0, length: 0, offset: this.#offset, timeNs };
          }
          const take = Math.min(n - i, FRAME_HEADER_LENGTH - this.#headerLength);
          this.#header.set(chunk.subarray(i, i + take), this.#headerLength);
          this.#headerLength += take;
          this.#offset += take;
          i += take;
          if (this.#headerLength === FRAME_HEADER_LENGTH) {
            this.#headerLength = 0;
            this.#startFrame(timeNs);
          }
          break;
        }
        case State.Buffer: {
          const take = Math.min(n - i, this.#payloadNeeded - this.#payloadLength);
          if (this.#payloadLength === 0 && take === this.#payloadNeeded) {
            this.#payloadView = chunk.subarray(i, i + take);
          } else {
            this.#payloadView = undefined;
            this.#payload.set(chunk.subarray(i, i + take), this.#payloadLength);
          }
          this.#payloadLength += take;
          this.#offset += take;
          i += take;
          if (this.#payloadLength === this.#payloadNeeded) this.#afterKept(timeNs);
          break;
        }
        case State.Skip: {
          const take = Math.min(n - i, this.#skipRemaining);
          this.#skipRemaining -= take;
          this.#offset += take;
          i += take;
          if (this.#skipRemaining === 0) this.#afterSkipped(timeNs);
          break;
        }
        case State.Data: {
          if (this.#dataPadPending) {
            this.#dataPadPending = false;
            const padLength = chunk[i]!;
            i++;
            this.#offset++;
            const rest = this.#frame.length - 1;
            if (padLength > rest) {
              this.#onError(Http2ErrorCode.BAD_PADDING, this.#frame.offset, `pad length ${padLength} exceeds DATA payload`);
              this.#dataRemaining = 0;
              this.#padRemaining = rest;
            } else {
              this.#dataRemaining = rest - padLength;
              this.#padRemaining = padLength;
            }
            if (this.#dataRemaining === 0 && this.#padRemaining === 0) {
              this.#emitData(chunk.subarray(i, i), true, timeNs);
              this.#finishFrame();
            }
            break;
          }
          if (this.#dataRemaining > 0) {
            const take = Math.min(n - i, this.#dataRemaining);
            this.#dataRemaining -= take;
            this.#offset += take;
            const piece = chunk.subarray(i, i + take);
            i += take;
            const last = this.#dataRemaining === 0 && this.#padRemaining === 0;
            this.#emitData(piece, last, timeNs);
            if (last) this.#finishFrame();
            break;
          }
          const take = Math.min(n - i, this.#padRemaining);
          this.#padRemaining -= take;
          this.#offset += take;
          i += take;
          if (this.#padRemaining === 0) {
            this.#emitData(chunk.subarray(i, i), true, timeNs);
            this.#finishFrame();
          }
          break;
        }
        case State.Hunt: {
          const take = n - i;
          this.#appendHunt(chunk.subarray(i, n));
          this.#offset += take;
          i = n;
          this.#huntForFrame();
          break;
        }
      }
    }
  }

  #emitData(payload: Uint8Array, last: boolean, timeNs: number): void {
    this.#onEvent({ kind: 'data', frame: this.#frame, payload, last, endOffset: this.#offset, endNs: timeNs });
  }

  /** The 9-byte header is in: decide how to read the payload. */
  #startFrame(timeNs: number): void {
    const h = this.#header;
    const length = (h[0]! << 16) | (h[1]! << 8) | h[2]!;
    const type = h[3]!;
    const flags = h[4]!;
    // The reserved bit is ignored on receipt (§4.1).
    const streamId = ((h[5]! & 0x7f) << 24) | (h[6]! << 16) | (h[7]! << 8) | h[8]!;
    const frame = this.#frame;
    frame.type = type;
    frame.flags = flags;
    frame.streamId = streamId;
    frame.length = length;

    if (length > this.#maxFrameSize) {
      this.#onError(
        Http2ErrorCode.FRAME_TOO_LARGE,
        frame.offset,
        `frame of ${length} bytes above SETTINGS_MAX_FRAME_SIZE ${this.#maxFrameSize}`,
      );
    }
    if (this.#blockState !== BlockState.None) {
      if (type !== FrameType.CONTINUATION || streamId !== this.#blockFrame!.streamId) {
        this.#onError(Http2ErrorCode.CONTINUATION_EXPECTED, frame.offset, 'header block interrupted by another frame');
        this.#emitUnkeptBlock(timeNs);
      }
    }

    switch (type) {
      case FrameType.DATA:
        if (streamId === 0) return this.#badStream('DATA on stream 0');
        this.#state = State.Data;
        this.#dataPadPending = (flags & FrameFlag.PADDED) !== 0 && length > 0;
        this.#dataRemaining = this.#dataPadPending ? 0 : length;
        this.#padRemaining = 0;
        if ((flags & FrameFlag.PADDED) !== 0 && length === 0) {
          this.#onError(Http2ErrorCode.BAD_PADDING, frame.offset, 'PADDED DATA frame without a pad length');
        }
        if (length === 0) {
          this.#emitData(this.#header.subarray(0, 0), true, timeNs);
          this.#finishFrame();
        }
        return;
      case FrameType.HEADERS:
      case FrameType.PUSH_PROMISE: {
        if (streamId === 0) this.#onError(Http2ErrorCode.BAD_STREAM_ID, frame.offset, 'header block on stream 0');
        const overhead = 1 + 5 + 4; // pad length, priority, promised stream id at most
        if (length > this.#maxHeaderBlockBytes + overhead + 255) {
          this.#onError(Http2ErrorCode.HEADER_BLOCK_TOO_LARGE, frame.offset, `header frame of ${length} bytes not kept`);
          this.#blockFrame = { ...frame };
          this.#blockState = BlockState.Discarding;
          this.#blockEndStream = (flags & FrameFlag.END_STREAM) !== 0 && type === FrameType.HEADERS;
          this.#blockWireBytes = length;
          this.#blockFrames = 1;
          this.#skipPayload(length);
          return;
        }
        this.#keepPayload(length, 0);
        return;
      }
      case FrameType.CONTINUATION:
        if (this.#blockState === BlockState.None) {
          this.#onError(Http2ErrorCode.CONTINUATION_EXPECTED, frame.offset, 'CONTINUATION without a header block');
          this.#skipPayload(length);
          return;
        }
        this.#blockFrames++;
        this.#blockWireBytes += length;
        if (this.#blockState === BlockState.Collecting) {
          if (this.#blockFrames > this.#maxContinuationFrames || this.#blockLength + length > this.#maxHeaderBlockBytes) {
            this.#onError(
              Http2ErrorCode.HEADER_BLOCK_TOO_LARGE,
              frame.offset,
              `header block above ${this.#maxHeaderBlockBytes} bytes or ${this.#maxContinuationFrames} CONTINUATION frames`,
            );
            this.#blockState = BlockState.Discarding;
            this.#blockLength = 0;
            this.#block = new Uint8Array(0);
          }
        }
        if (this.#blockState === BlockState.Discarding) this.#skipPayload(length);
        else this.#keepPayload(length, 0);
        return;
      case FrameType.PRIORITY:
        if (streamId === 0) return this.#badStream('PRIORITY on stream 0');
        return this.#fixedLength(length === 5, length);
      case FrameType.RST_STREAM:
        if (streamId === 0) return this.#badStream('RST_STREAM on stream 0');
        return this.#fixedLength(length === 4, length);
      case FrameType.SETTINGS:
        if (streamId !== 0) return this.#badStream('SETTINGS on a stream');
        if (flags & FrameFlag.ACK ? length !== 0 : length % 6 !== 0) return this.#fixedLength(false, length);
        this.#keepPayload(Math.min(length, MAX_SETTINGS_BYTES), length - Math.min(length, MAX_SETTINGS_BYTES));
        return;
      case FrameType.PING:
        if (streamId !== 0) return this.#badStream('PING on a stream');
        return this.#fixedLength(length === 8, length);
      case FrameType.GOAWAY:
        if (streamId !== 0) return this.#badStream('GOAWAY on a stream');
        if (length < GOAWAY_FIXED_BYTES) return this.#fixedLength(false, length);
        this.#keepPayload(GOAWAY_FIXED_BYTES, length - GOAWAY_FIXED_BYTES);
        return;
      case FrameType.WINDOW_UPDATE:
        return this.#fixedLength(length === 4, length);
      default:
        // Unknown frame types are ignored (§4.1), payload and all.
        this.#keepPayload(0, length);
        return;
    }
  }

  #badStream(message: string): void {
    this.#onError(Http2ErrorCode.BAD_STREAM_ID, this.#frame.offset, message);
    this.#skipPayload(this.#frame.length);
  }

  #fixedLength(ok: boolean, length: number): void {
    if (!ok) {
      this.#onError(Http2ErrorCode.FRAME_SIZE, this.#frame.offset, `frame type ${this.#frame.type} with bad length ${length}`);
      this.#skipPayload(length);
      return;
    }
    this.#keepPayload(length, 0);
  }

  /** Keep `keep` payload bytes, drop `skip` more, then complete the frame. */
  #keepPayload(keep: number, skip: number): void {
    this.#payloadNeeded = keep;
    this.#payloadLength = 0;
    this.#payloadView = undefined;
    if (this.#payload.length < keep) this.#payload = new Uint8Array(Math.max(keep, Math.min(this.#payload.length * 2, 1 << 20)));
    this.#skipRemaining = skip;
    this.#afterPayload = 'complete';
    this.#state = State.Buffer;
    if (keep === 0) this.#afterKept(this.#frame.timeNs);
  }

  /** Drop the payload; the frame produces no event. */
  #skipPayload(length: number): void {
    this.#skipRemaining = length;
    this.#afterPayload = 'none';
    this.#state = State.Skip;
    if (length === 0) this.#afterSkipped(this.#frame.timeNs);
  }

  #afterKept(timeNs: number): void {
    if (this.#skipRemaining > 0) {
      this.#state = State.Skip;
      return;
    }
    this.#afterSkipped(timeNs);
  }

  #afterSkipped(timeNs: number): void {
    if (this.#afterPayload === 'complete') {
      this.#afterPayload = 'none';
      const payload = this.#payloadView ?? this.#payload.subarray(0, this.#payloadLength);
      this.#completeFrame(payload, timeNs);
      this.#payloadView = undefined;
      this.#payloadLength = 0;
      this.#payloadNeeded = 0;
      // A big header frame's buffer is not kept around for the life of the connection.
      if (this.#payload.length > 16384) this.#payload = new Uint8Array(0);
      this.#finishFrame();
      return;
    }
    // A skipped frame may still close a header block being discarded.
    const frame = this.#frame;
    if (
      (frame.type === FrameType.CONTINUATION || frame.type === FrameType.HEADERS || frame.type === FrameType.PUSH_PROMISE) &&
      this.#blockState === BlockState.Discarding &&
      frame.flags & FrameFlag.END_HEADERS
    ) {
      this.#emitUnkeptBlock(timeNs);
    }
    this.#finishFrame();
  }

  #finishFrame(): void {
    this.#state = State.Header;
    this.#onFrame?.(this.#frame);
  }

  /** A kept frame payload is complete. */
  #completeFrame(p: Uint8Array, timeNs: number): void {
    const frame = this.#frame;
    const base = { frame, endOffset: this.#offset, endNs: timeNs };
    switch (frame.type) {
      case FrameType.HEADERS:
      case FrameType.PUSH_PROMISE: {
        let start = 0;
        let end = p.length;
        if (frame.flags & FrameFlag.PADDED) {
          const padLength = p[0] ?? 0;
          start = 1;
          if (p.length < 1 || padLength > p.length - 1) {
            this.#onError(Http2ErrorCode.BAD_PADDING, frame.offset, `pad length ${padLength} exceeds header frame payload`);
            end = start;
          } else {
            end = p.length - padLength;
          }
        }
        let priority: PriorityInfo | undefined;
        let promised: number | undefined;
        if (frame.type === FrameType.HEADERS && frame.flags & FrameFlag.PRIORITY) {
          if (end - start < 5) {
            this.#onError(Http2ErrorCode.FRAME_SIZE, frame.offset, 'HEADERS too short for its priority fields');
            start = end;
          } else {
            priority = readPriority(p, start);
            start += 5;
          }
        }
        if (frame.type === FrameType.PUSH_PROMISE) {
          if (end - start < 4) {
            this.#onError(Http2ErrorCode.FRAME_SIZE, frame.offset, 'PUSH_PROMISE too short for its promised stream id');
            start = end;
          } else {
            promised = readUint31(p, start);
            start += 4;
          }
        }
        this.#blockFrame = { ...frame };
        this.#blockEndStream = frame.type === FrameType.HEADERS && (frame.flags & FrameFlag.END_STREAM) !== 0;
        this.#blockPriority = priority;
        this.#blockPromised = promised;
        this.#blockWireBytes = end - start;
        this.#blockFrames = 1;
        if (frame.flags & FrameFlag.END_HEADERS) {
          // The common case: one frame, no copy.
          this.#emitBlock(p.subarray(start, end), timeNs);
          return;
        }
        this.#blockState = BlockState.Collecting;
        this.#appendBlock(p.subarray(start, end));
        return;
      }
      case FrameType.CONTINUATION:
        this.#appendBlock(p);
        if (frame.flags & FrameFlag.END_HEADERS) this.#emitBlock(this.#block.subarray(0, this.#blockLength), timeNs);
        return;
      case FrameType.PRIORITY:
        this.#onEvent({ ...base, kind: 'priority', priority: readPriority(p, 0) });
        return;
      case FrameType.RST_STREAM:
        this.#onEvent({ ...base, kind: 'rst-stream', errorCode: readUint32(p, 0) });
        return;
      case FrameType.SETTINGS: {
        const settings: [number, number][] = [];
        for (let k = 0; k + 6 <= p.length; k += 6) settings.push([(p[k]! << 8) | p[k + 1]!, readUint32(p, k + 2)]);
        frame.settings = settings;
        this.#onEvent({ ...base, kind: 'settings', ack: (frame.flags & FrameFlag.ACK) !== 0, settings });
        return;
      }
      case FrameType.PING:
        this.#onEvent({ ...base, kind: 'ping', ack: (frame.flags & FrameFlag.ACK) !== 0 });
        return;
      case FrameType.GOAWAY:
        this.#onEvent({ ...base, kind: 'goaway', lastStreamId: readUint31(p, 0), errorCode: readUint32(p, 4) });
        return;
      case FrameType.WINDOW_UPDATE:
        this.#onEvent({ ...base, kind: 'window-update', increment: readUint31(p, 0) });
        return;
      default:
        this.#onEvent({ ...base, kind: 'unknown' });
    }
  }

  #appendBlock(fragment: Uint8Array): void {
    const needed = this.#blockLength + fragment.length;
    if (this.#block.length < needed) {
      const grown = new Uint8Array(Math.min(Math.max(needed, this.#block.length * 2, 1024), this.#maxHeaderBlockBytes + 1024));
      grown.set(this.#block.subarray(0, this.#blockLength));
      this.#block = grown;
    }
    this.#block.set(fragment, this.#blockLength);
    this.#blockLength = needed;
  }

  #emitBlock(block: Uint8Array | undefined, timeNs: number): void {
    const frame = this.#blockFrame!;
    const event: FrameEvent = {
      kind: 'headers',
      frame,
      block,
      blockBytes: this.#blockWireBytes,
      endStream: this.#blockEndStream,
      endOffset: this.#offset,
      endNs: timeNs,
    };
    if (this.#blockPriority) event.priority = this.#blockPriority;
    if (this.#blockPromised !== undefined) event.promisedStreamId = this.#blockPromised;
    this.#resetBlock();
    this.#onEvent(event);
  }

  /** A header block ended without its bytes: the consumer must treat the HPACK table as lost. */
  #emitUnkeptBlock(timeNs: number): void {
    if (this.#blockState === BlockState.None || !this.#blockFrame) return;
    this.#emitBlock(undefined, timeNs);
  }

  #resetBlock(): void {
    this.#blockState = BlockState.None;
    this.#blockLength = 0;
    if (this.#block.length > 16384) this.#block = new Uint8Array(0);
    this.#blockFrame = undefined;
    this.#blockPriority = undefined;
    this.#blockPromised = undefined;
    this.#blockWireBytes = 0;
    this.#blockFrames = 0;
  }

  /** Drops the frame in progress (gap or end). An open header block is reported as not kept. */
  #abandonFrame(): void {
    this.#headerLength = 0;
    this.#payloadLength = 0;
    this.#payloadNeeded = 0;
    this.#payloadView = undefined;
    this.#skipRemaining = 0;
    this.#afterPayload = 'none';
    if (this.#blockState !== BlockState.None) this.#emitUnkeptBlock(this.#frame.timeNs);
    else if (this.#state === State.Buffer && (this.#frame.type === FrameType.HEADERS || this.#frame.type === FrameType.PUSH_PROMISE)) {
      // A header frame cut off before END_HEADERS was read.
      this.#blockFrame = { ...this.#frame };
      this.#blockState = BlockState.Discarding;
      this.#emitUnkeptBlock(this.#frame.timeNs);
    }
    if (this.#payload.length > 16384) this.#payload = new Uint8Array(0);
    if (this.#state !== State.Hunt && this.#state !== State.Preface) this.#state = State.Header;
  }

  #enterHunt(): void {
    if (this.#state === State.Hunt && this.#huntLength > 0) {
      this.#onError(Http2ErrorCode.RESYNC_DISCARD, this.#huntOffset, `${this.#huntLength} bytes before a gap were not framed`);
    }
    this.#state = State.Hunt;
    this.#huntLength = 0;
    this.#huntOffset = this.#offset;
  }

  #appendHunt(bytes: Uint8Array): void {
    if (this.#huntLength === 0) this.#huntOffset = this.#offset;
    const needed = this.#huntLength + bytes.length;
    if (this.#hunt.length < needed) {
      const grown = new Uint8Array(Math.max(needed, this.#hunt.length * 2, 1024));
      grown.set(this.#hunt.subarray(0, this.#huntLength));
      this.#hunt = grown;
    }
    this.#hunt.set(bytes, this.#huntLength);
    this.#huntLength = needed;
  }

  /**
   * Looks for a frame header in the resync window. A candidate is taken when the frame after
   * it is plausible too (or lies beyond the window); the preface is stepped over.
   */
  #huntForFrame(): void {
    const buf = this.#hunt;
    const len = this.#huntLength;
    let p = 0;
    let accept = -1;
    let waitFrom = -1;
    for (; p + FRAME_HEADER_LENGTH <= len; p++) {
      if (buf[p] === 0x50 && matchesPreface(buf, p, len)) {
        if (p + CLIENT_PREFACE.length > len) {
          waitFrom = p;
          break;
        }
        this.#dropHunt(p, 'bytes before the preface');
        this.#dropHunt(CLIENT_PREFACE.length, '');
        return this.#huntForFrame();
      }
      if (!plausibleHeader(buf, p, this.#maxFrameSize, this.#side)) continue;
      const next = p + FRAME_HEADER_LENGTH + frameLength(buf, p);
      if (next - p + FRAME_HEADER_LENGTH > HUNT_WINDOW) {
        accept = p;
        break;
      }
      // A frame that ends exactly where the bytes so far end: writes and reads
      // usually carry whole frames, so take it now rather than wait for the next
      // chunk (which would also give this frame that chunk's later time).
      if (next === len) {
        accept = p;
        break;
      }
      if (next + FRAME_HEADER_LENGTH <= len) {
        if (plausibleHeader(buf, next, this.#maxFrameSize, this.#side)) {
          accept = p;
          break;
        }
        continue;
      }
      waitFrom = p;
      break;
    }
    if (accept >= 0) {
      this.#dropHunt(accept, 'bytes skipped to reach a frame header');
      this.#replay = this.#hunt.slice(0, this.#huntLength);
      this.#offset = this.#huntOffset;
      this.#huntLength = 0;
      this.#hunt = new Uint8Array(0);
      this.#state = State.Header;
      return;
    }
    // Keep what could still start a frame header; drop the rest.
    const keepFrom = waitFrom >= 0 ? waitFrom : Math.max(0, len - (FRAME_HEADER_LENGTH - 1));
    if (keepFrom > 0) this.#dropHunt(keepFrom, 'bytes without a plausible frame header');
    if (this.#huntLength > HUNT_WINDOW) this.#dropHunt(this.#huntLength - HUNT_WINDOW, 'bytes without a plausible frame header');
  }

  #dropHunt(count: number, why: string): void {
    if (count <= 0) return;
    if (why) this.#onError(Http2ErrorCode.RESYNC_DISCARD, this.#huntOffset, `${count} ${why}`);
    this.#hunt.copyWithin(0, count, this.#huntLength);
    this.#huntLength -= count;
    this.#huntOffset += count;
  }
}

/** Could these 9 bytes be a frame header this side sends? CONTINUATION is never a place to resume. */
function plausibleHeader(b: Uint8Array, p: number, maxFrameSize: number, side: 'client' | 'server'): boolean {
  if (b[p + 5]! & 0x80) return false;
  const length = frameLength(b, p);
  if (length > maxFrameSize) return false;
  const type = b[p + 3]!;
  const flags = b[p + 4]!;
  const streamId = readUint31(b, p + 5);
  const clientStream = (streamId & 1) === 1;
  switch (type) {
    case FrameType.DATA:
      return streamId !== 0 && (flags & ~0x09) === 0;
    case FrameType.HEADERS:
      return streamId !== 0 && (flags & ~0x2d) === 0 && (side === 'server' || clientStream);
    case FrameType.PRIORITY:
      return streamId !== 0 && length === 5 && flags === 0;
    case FrameType.RST_STREAM:
      return streamId !== 0 && length === 4 && flags === 0;
    case FrameType.SETTINGS:
      return streamId === 0 && (flags & ~0x01) === 0 && (flags ? length === 0 : length % 6 === 0);
    case FrameType.PUSH_PROMISE:
      return side === 'server' && streamId !== 0 && (flags & ~0x0c) === 0;
    case FrameType.PING:
      return streamId === 0 && length === 8 && (flags & ~0x01) === 0;
    case FrameType.GOAWAY:
      return streamId === 0 && length >= 8 && flags === 0;
    case FrameType.WINDOW_UPDATE:
      return length === 4 && flags === 0;
    default:
      return false;
  }
}

function clampFrameSize(size: number): number {
  return Math.max(DEFAULT_MAX_FRAME_SIZE, Math.min(size, MAX_FRAME_SIZE_CEILING));
}

function frameLength(b: Uint8Array, p: number): number {
  return (b[p]! << 16) | (b[p + 1]! << 8) | b[p + 2]!;
}

function readUint32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

function readUint31(b: Uint8Array, p: number): number {
  return readUint32(b, p) & 0x7fffffff;
}

function readPriority(b: Uint8Array, p: number): PriorityInfo {
  return { exclusive: (b[p]! & 0x80) !== 0, dependsOn: readUint31(b, p), weight: b[p + 4]! + 1 };
}

function matchesPreface(b: Uint8Array, p: number, len: number): boolean {
  for (let k = 0; k < CLIENT_PREFACE.length && p + k < len; k++) if (b[p + k] !== CLIENT_PREFACE[k]) return false;
  return true;
}
