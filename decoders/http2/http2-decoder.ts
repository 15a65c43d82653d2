// HTTP/2 messages from one direction of one connection: frames → header blocks (HPACK)
// and DATA → one request or response per stream, emitted when this side ends the stream,
// resets it, or the connection ends.
import { concatBytes } from '../bytes.js';
import type { DecodeError, HeaderField, HttpRequest, HttpResponse } from '../message.js';
import { Http2ErrorCode } from './errors.js';
import { FrameFlag, FrameParser, FrameType, SettingId } from './frame-parser.js';
import type { FrameEvent, FrameInfo } from './frame-parser.js';
import { HpackDecoder } from './hpack-decoder.js';

export type { FrameInfo } from './frame-parser.js';

export const DEFAULT_MAX_CONCURRENT_STREAMS = 128;
export const DEFAULT_MAX_BODY_CAPTURE = 4096;
/** gRPC message prefixes listed per message; the count goes on past this. */
export const MAX_GRPC_MESSAGES_LISTED = 64;
/** Stream ids remembered after they close, to tell reuse from late frames. */
const RETIRED_STREAMS_REMEMBERED = 1024;
const GRPC_PREFIX_LENGTH = 5;
export const HTTP2_VERSION = 'HTTP/2';

export interface Http2DecoderOptions {
  /** 'client': bytes sent by the client (starts with the preface, carries requests); 'server': responses. */
  side: 'client' | 'server';
  onMessage: (m: Http2Message) => void;
  onError: (e: DecodeError) => void;
  /** Optional per-frame observer (SETTINGS frames carry their settings). */
  onFrame?: (f: FrameInfo) => void;
  /** False: first seen mid-stream, so the HPACK table is unknown and header fields are withheld. */
  startsAtConnectionStart: boolean;
  /** Open streams tracked; opening one more reports the oldest as it stands. Default 128. */
  maxConcurrentStreams?: number;
  /** Decoded header list cap per block (HPACK bomb bound). Default 64 KiB. */
  maxHeaderListSize?: number;
  /** Body bytes captured per message. Default 4096. */
  maxBodyCapture?: number;
  /** Header block (HEADERS + CONTINUATION) bytes kept for decoding. Default 64 KiB. */
  maxHeaderBlockBytes?: number;
}

/** The length prefix of one gRPC message found in DATA. */
export interface GrpcMessageInfo {
  compressed: boolean;
  length: number;
}

export interface Http2MessageFields {
  streamId: number;
  /** This side ended the stream (END_STREAM); false when reset or cut off by the connection end. */
  endStream: boolean;
  /** RST_STREAM error code, when this side reset the stream. */
  reset?: number;
  /** False: header fields were withheld (HPACK table unknown); `headers` is empty then. */
  headersTrusted: boolean;
  /** Fields past maxHeaderListSize were dropped. */
  headersTruncated: boolean;
  dataFrames: number;
  /** Interim (1xx) statuses that preceded a response. */
  informational?: number[];
  /** application/grpc*: message prefixes in DATA, at most MAX_GRPC_MESSAGES_LISTED. */
  grpcMessages?: GrpcMessageInfo[];
  /** application/grpc*: number of message prefixes seen, listed or not. */
  grpcMessageCount?: number;
}

export type Http2Request = HttpRequest & Http2MessageFields;
export type Http2Response = HttpResponse & Http2MessageFields;
export type Http2Message = Http2Request | Http2Response;

interface Stream {
  id: number;
  headers: HeaderField[] | undefined;
  trailers: HeaderField[] | undefined;
  finalHeadersSeen: boolean;
  trusted: boolean;
  headersTruncated: boolean;
  informational: number[] | undefined;
  headerBytes: number;
  bodyBytes: number;
  body: Uint8Array[];
  captured: number;
  bodyTruncated: boolean;
  dataFrames: number;
  startNs: number;
  endNs: number;
  startOffset: number;
  endOffset: number;
  grpc: GrpcScan | undefined;
}

/** Walks gRPC length-prefixed messages across DATA pieces. */
class GrpcScan {
  readonly messages: GrpcMessageInfo[] = [];
  count = 0;
  readonly #prefix = new Uint8Array(GRPC_PREFIX_LENGTH);
  #prefixLength = 0;
  #remaining = 0;

  scan(data: Uint8Array): void {
    let i = 0;
    while (i < data.length) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, data.length - i);
        this.#remaining -= take;
        i += take;
        continue;
      }
      this.#prefix[this.#prefixLength++] = data[i++]!;
      if (this.#prefixLength < GRPC_PREFIX_LENGTH) continue;
      this.#prefixLength = 0;
      const p = this.#prefix;
      const length = ((p[1]! << 24) | (p[2]! << 16) | (p[3]! << 8) | p[4]!) >>> 0;
      this.count++;
      if (this.messages.length < MAX_GRPC_MESSAGES_LISTED) this.messages.push({ compressed: (p[0]! & 1) === 1, length });
      this.#remaining = length;
    }
  }
}

export class Http2Decoder {
  readonly #side: 'client' | 'server';
  readonly #onMessage: (m: Http2Message) => void;
  readonly #onError: (e: DecodeError) => void;
  readonly #maxStreams: number;
  readonly #maxBodyCapture: number;
  readonly #parser: FrameParser;
  readonly #hpack: HpackDecoder;
  readonly #streams = new Map<number, Stream>();
  /** Ids no longer open, oldest first: 'closed' ended normally, 'evicted' was pushed out by newer streams. */
  readonly #retired = new Map<number, 'closed' | 'evicted'>();
  #highestStreamId = 0;
  /** Every byte since the connection start was seen: stream-id rules can be checked. */
  #completeHistory: boolean;
  #capturedBytes = 0;

  constructor(options: Http2DecoderOptions) {
    this.#side = options.side;
    this.#onMessage = options.onMessage;
    this.#onError = options.onError;
    this.#maxStreams = Math.max(1, options.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS);
    this.#maxBodyCapture = Math.max(0, options.maxBodyCapture ?? DEFAULT_MAX_BODY_CAPTURE);
    this.#completeHistory = options.startsAtConnectionStart;
    const hpackOptions: { trusted: boolean; maxHeaderListSize?: number } = { trusted: options.startsAtConnectionStart };
    if (options.maxHeaderListSize !== undefined) hpackOptions.maxHeaderListSize = options.maxHeaderListSize;
    this.#hpack = new HpackDecoder(hpackOptions);
    const parserOptions: ConstructorParameters<typeof FrameParser>[0] = {
      side: options.side,
      startsAtConnectionStart: options.startsAtConnectionStart,
      onEvent: (event) => this.#onEvent(event),
      onError: (code, offset, message) => this.#onError({ code, offset, message }),
    };
    if (options.onFrame) parserOptions.onFrame = options.onFrame;
    if (options.maxHeaderBlockBytes !== undefined) parserOptions.maxHeaderBlockBytes = options.maxHeaderBlockBytes;
    this.#parser = new FrameParser(parserOptions);
  }

  /** Stream offset of the next byte expected. */
  get offset(): number {
    return this.#parser.offset;
  }

  /** Bytes held: partial frame, header block being assembled, resync window, captured bodies of open streams. */
  get bufferedBytes(): number {
    return this.#parser.bufferedBytes + this.#capturedBytes;
  }

  /** The pseudo-header every header section of this direction carries (RFC 9113 §8.3). */
  get #requiredPseudo(): ':method' | ':status' {
    return this.#side === 'client' ? ':method' : ':status';
  }

  /** Whether header fields decoded now can be trusted (HPACK table known). */
  get headersTrusted(): boolean {
    return this.#hpack.trusted;
  }

  /** Streams currently open in this direction. */
  get openStreams(): number {
    return this.#streams.size;
  }

  /**
   * SETTINGS sent by the other side (seen by the other direction's decoder): they bound this
   * side's HPACK table size updates and frame sizes.
   */
  applyPeerSettings(settings: ReadonlyArray<readonly [number, number]>): void {
    for (const [id, value] of settings) {
      if (id === SettingId.HEADER_TABLE_SIZE) this.#hpack.allowHeaderTableSize(value);
      else if (id === SettingId.MAX_FRAME_SIZE) this.#parser.allowMaxFrameSize(value);
    }
  }

  push(chunk: Uint8Array, timeNs: number): void {
    this.#parser.push(chunk, timeNs);
  }

  /** Ids of the streams open in this direction, oldest first. */
  openStreamIds(): IterableIterator<number> {
    return this.#streams.keys();
  }

  /** An open stream's message as it stands, leaving it open (progress of long-lived streams). */
  peek(streamId: number): Http2Message | undefined {
    const stream = this.#streams.get(streamId);
    return stream && this.#message(stream, false, undefined);
  }

  /** `length` bytes of this direction were lost. Framing and the HPACK table are lost with them. */
  skip(length: number, timeNs: number): void {
    this.#parser.gap(length, timeNs);
    this.#hpack.markUntrusted();
    this.#completeHistory = false;
    for (const stream of this.#streams.values()) stream.bodyTruncated = true;
  }

  /** The direction ended: open streams are reported as they stand. */
  end(timeNs: number): void {
    this.#parser.end(timeNs);
    for (const stream of [...this.#streams.values()]) {
      stream.endNs = Math.max(stream.endNs, timeNs);
      this.#finish(stream, false, undefined);
    }
  }

  #onEvent(event: FrameEvent): void {
    switch (event.kind) {
      case 'headers':
        return this.#onHeaders(event);
      case 'data':
        return this.#onData(event);
      case 'rst-stream': {
        const stream = this.#streams.get(event.frame.streamId);
        if (!stream) return;
        stream.endOffset = event.endOffset;
        stream.endNs = event.endNs;
        this.#finish(stream, false, event.errorCode);
        return;
      }
      default:
        // SETTINGS bound the other direction (see applyPeerSettings); the rest carry no message data.
        return;
    }
  }

  #onHeaders(event: Extract<FrameEvent, { kind: 'headers' }>): void {
    const frame = event.frame;
    // Every block goes through HPACK, even one that belongs to no message, to keep the table in step.
    let fields: HeaderField[] | undefined;
    let truncated = false;
    let partial = false;
    if (event.block === undefined) {
      this.#hpack.markUntrusted();
    } else {
      const result = this.#hpack.decode(event.block);
      if (result.error) {
        this.#onError({ code: result.error.code, offset: frame.offset, message: result.error.message });
      }
      fields = result.headers;
      truncated = result.truncated;
      partial = result.partial === true;
    }
    if (frame.type === FrameType.PUSH_PROMISE || frame.streamId === 0) return;

    const id = frame.streamId;
    let stream = this.#streams.get(id);
    if (!stream) {
      stream = this.#open(id, frame);
      if (!stream) return;
    }
    stream.headerBytes += event.blockBytes;
    stream.endOffset = event.endOffset;
    stream.endNs = event.endNs;
    // Fields decoded while the table is unknown are only those that cannot be wrong: kept,
    // with the stream marked untrusted (some fields may be missing).
    if (partial) {
      stream.trusted = false;
      // Without its pseudo-header this block may be the trailers of a stream whose
      // headers were missed: its fields cannot be placed, so none are kept.
      if (fields && !stream.finalHeadersSeen && pseudo(fields, this.#requiredPseudo) === undefined) fields = [];
    }
    if (!stream.finalHeadersSeen) {
      this.#applyHeaders(stream, fields, truncated || partial, event.endStream, frame.offset);
    } else if (fields) {
      stream.trailers = fields;
      if (truncated) stream.headersTruncated = true;
    } else {
      stream.trusted = false;
    }
    if (event.endStream) this.#finish(stream, true, undefined);
  }

  /** `incomplete`: fields may be missing (cut at the list cap, or decoded with an unknown table). */
  #applyHeaders(stream: Stream, fields: HeaderField[] | undefined, incomplete: boolean, endStream: boolean, offset: number): void {
    if (!fields) {
      stream.trusted = false;
      stream.finalHeadersSeen = true;
      return;
    }
    if (this.#side === 'server') {
      const status = Number(pseudo(fields, ':status'));
      if (status >= 100 && status < 200 && status !== 101 && !endStream) {
        (stream.informational ??= []).push(status);
        return;
      }
    }
    stream.finalHeadersSeen = true;
    stream.headers = fields;
    if (stream.trusted) stream.headersTruncated = incomplete;
    if (pseudo(fields, this.#requiredPseudo) === undefined && !incomplete) {
      this.#onError({ code: Http2ErrorCode.MALFORMED_HEADERS, offset, message: `stream ${stream.id} headers without ${this.#requiredPseudo}` });
    }
    const contentType = pseudo(fields, 'content-type');
    if (contentType !== undefined && contentType.startsWith('application/grpc')) stream.grpc = new GrpcScan();
  }

  /** Opens a stream for a header block, or reports why not. */
  #open(id: number, frame: FrameInfo): Stream | undefined {
    const retired = this.#retired.get(id);
    // Trailers of a stream evicted for room: nothing left to attach them to.
    if (retired === 'evicted') return undefined;
    if (this.#completeHistory) {
      if (this.#side === 'client' && id % 2 === 0) {
        this.#onError({ code: Http2ErrorCode.BAD_STREAM_ID, offset: frame.offset, message: `client opened even stream ${id}` });
        return undefined;
      }
      const reused = retired === 'closed' || (this.#side === 'client' && id <= this.#highestStreamId);
      if (reused) {
        this.#onError({ code: Http2ErrorCode.STREAM_ID_REUSE, offset: frame.offset, message: `stream ${id} used again` });
        return undefined;
      }
    }
    return this.#track(id, frame);
  }

  #track(id: number, frame: FrameInfo): Stream {
    if (this.#streams.size >= this.#maxStreams) {
      this.#onError({
        code: Http2ErrorCode.TOO_MANY_STREAMS,
        offset: frame.offset,
        message: `more than ${this.#maxStreams} open streams; reporting the oldest as it stands`,
      });
      const oldest = this.#streams.values().next().value!;
      oldest.bodyTruncated = true;
      this.#finish(oldest, false, undefined, 'evicted');
    }
    if (id > this.#highestStreamId) this.#highestStreamId = id;
    this.#retired.delete(id);
    const stream: Stream = {
      id,
      headers: undefined,
      trailers: undefined,
      finalHeadersSeen: false,
      trusted: true,
      headersTruncated: false,
      informational: undefined,
      headerBytes: 0,
      bodyBytes: 0,
      body: [],
      captured: 0,
      bodyTruncated: false,
      dataFrames: 0,
      startNs: frame.timeNs,
      endNs: frame.timeNs,
      startOffset: frame.offset,
      endOffset: frame.offset,
      grpc: undefined,
    };
    this.#streams.set(id, stream);
    return stream;
  }

  #onData(event: Extract<FrameEvent, { kind: 'data' }>): void {
    const frame = event.frame;
    let stream = this.#streams.get(frame.streamId);
    if (!stream) {
      const retired = this.#retired.get(frame.streamId);
      if (!this.#completeHistory && retired === undefined) {
        // Opened before we started listening or before a gap: its headers are unknown.
        stream = this.#track(frame.streamId, frame);
        stream.trusted = false;
        stream.finalHeadersSeen = true;
        stream.bodyTruncated = true;
      } else {
        if (event.last && retired !== 'evicted') {
          this.#onError({
            code: Http2ErrorCode.STREAM_STATE,
            offset: frame.offset,
            message: `DATA on ${retired === 'closed' ? 'closed' : 'unopened'} stream ${frame.streamId}`,
          });
        }
        return;
      }
    }
    const payload = event.payload;
    if (payload.length > 0) {
      stream.bodyBytes += payload.length;
      const room = this.#maxBodyCapture - stream.captured;
      if (room > 0) {
        const kept = payload.slice(0, Math.min(room, payload.length));
        stream.body.push(kept);
        stream.captured += kept.length;
        this.#capturedBytes += kept.length;
      }
      if (payload.length > room) stream.bodyTruncated = true;
      stream.grpc?.scan(payload);
    }
    stream.endOffset = event.endOffset;
    stream.endNs = event.endNs;
    if (!event.last) return;
    stream.dataFrames++;
    if (frame.flags & FrameFlag.END_STREAM) this.#finish(stream, true, undefined);
  }

  #finish(stream: Stream, endStream: boolean, reset: number | undefined, why: 'closed' | 'evicted' = 'closed'): void {
    this.#streams.delete(stream.id);
    this.#capturedBytes -= stream.captured;
    this.#retired.set(stream.id, why);
    if (this.#retired.size > RETIRED_STREAMS_REMEMBERED) this.#retired.delete(this.#retired.keys().next().value!);
    this.#onMessage(this.#message(stream, endStream, reset));
  }

  #message(stream: Stream, endStream: boolean, reset: number | undefined): Http2Message {
    const trusted = stream.trusted && stream.headers !== undefined;
    // Untrusted streams keep the fields that were decoded without guessing (see #onHeaders).
    const fields = stream.headers ?? [];
    const base = {
      headerBytes: stream.headerBytes,
      bodyBytes: stream.bodyBytes,
      bodyTruncated: stream.bodyTruncated,
      startNs: stream.startNs,
      endNs: stream.endNs,
      startOffset: stream.startOffset,
      endOffset: stream.endOffset,
      version: HTTP2_VERSION,
      streamId: stream.id,
      endStream,
      headersTrusted: trusted,
      headersTruncated: stream.headersTruncated,
      dataFrames: stream.dataFrames,
    };
    const extra: Partial<Http2MessageFields> & { body?: Uint8Array; trailers?: HeaderField[] } = {};
    if (stream.captured > 0) extra.body = concatBytes(stream.body, stream.captured);
    if (stream.trailers) extra.trailers = stream.trailers;
    if (reset !== undefined) extra.reset = reset;
    if (stream.informational) extra.informational = stream.informational;
    if (stream.grpc) {
      extra.grpcMessages = stream.grpc.messages;
      extra.grpcMessageCount = stream.grpc.count;
    }
    if (this.#side === 'client') {
      return {
        type: 'request',
        ...base,
        method: pseudo(fields, ':method') ?? '',
        target: pseudo(fields, ':path') ?? '',
        headers: fields.filter(([name]) => name !== ':method' && name !== ':path'),
        ...extra,
      };
    }
    return {
      type: 'response',
      ...base,
      status: Number(pseudo(fields, ':status') ?? 0) || 0,
      reason: '',
      headers: fields.filter(([name]) => name !== ':status'),
      ...extra,
    };
  }
}

/** HTTP/2 field names are lower case on the wire, so an exact match is enough. */
function pseudo(fields: HeaderField[], name: string): string | undefined {
  for (const [n, v] of fields) if (n === name) return v;
  return undefined;
}

