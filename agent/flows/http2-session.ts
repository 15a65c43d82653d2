// HTTP/2 on one connection: a decoder per direction (SETTINGS of each side bound
// the other), requests and responses paired by stream id. gRPC streams become
// 'GRPC' exchanges with the call's service, method, status and message counts;
// long-lived gRPC streams also yield progress records while they stay open.
import { grpcCallInfo, isGrpcContentType } from '../../decoders/grpc/grpc-call.js';
import { Http2ConnectionDecoder } from '../../decoders/http2/http2-connection.js';
import type { Http2Request, Http2Response } from '../../decoders/http2/http2-decoder.js';
import { headerValue } from '../../decoders/message.js';
import type { GrpcInfo } from '../schema/flow.js';
import type { Exchange, MessageSide, ProtocolSession, SessionEvents } from './exchange.js';

/** Completed halves waiting for the other half, per connection. Past this the oldest is reported as it stands. */
export const MAX_PENDING_STREAMS = 256;
/** Stream ids already reported, remembered so a late other half is not reported twice. */
const REPORTED_STREAMS_REMEMBERED = 1024;

export const Http2SessionErrorCode = {
  /** More completed halves awaiting their other half than MAX_PENDING_STREAMS: the oldest was reported alone. */
  PENDING_EVICTED: 'FLOWSCOPE_ERR_HTTP2_PENDING_EVICTED',
} as const;

/** Decodes gRPC message payloads of one direction (length-prefixed messages, grpc-encoding) to JSON texts. */
export type GrpcPayloadDecoder = (path: string, side: MessageSide, body: Uint8Array, encoding: string | undefined) => string[];

export const DEFAULT_GRPC_PROGRESS_INTERVAL_MS = 60_000;
/** Body bytes kept per stream when payload decoding is on. */
const GRPC_PAYLOAD_CAPTURE = 64 * 1024;

export interface Http2SessionOptions {
  maxBodyCapture: number;
  startsAtConnectionStart: boolean;
  /** A gRPC stream open this long gets a progress record, and another each interval after. 0: never. */
  grpcProgressIntervalMs?: number;
  /** Payload decoding (off when absent): needs the body bytes, so it raises the body capture. */
  grpcPayloadDecoder?: GrpcPayloadDecoder;
}

interface Pending {
  request?: Http2Request;
  response?: Http2Response;
}

export class Http2Session implements ProtocolSession {
  readonly #decoder: Http2ConnectionDecoder;
  /** stream id → the half that completed first. Map order is completion order. */
  readonly #pending = new Map<number, Pending>();
  readonly #reported = new Set<number>();
  /** stream id → monotonic ns of its last progress record. */
  readonly #progressAt = new Map<number, number>();
  readonly #progressIntervalNs: number;
  #nextProgressScanNs = 0;
  readonly #payloadDecoder: GrpcPayloadDecoder | undefined;

  constructor(
    readonly events: SessionEvents,
    options: Http2SessionOptions,
  ) {
    this.#progressIntervalNs = (options.grpcProgressIntervalMs ?? DEFAULT_GRPC_PROGRESS_INTERVAL_MS) * 1e6;
    this.#payloadDecoder = options.grpcPayloadDecoder;
    const maxBodyCapture = this.#payloadDecoder ? Math.max(options.maxBodyCapture, GRPC_PAYLOAD_CAPTURE) : options.maxBodyCapture;
    this.#decoder = new Http2ConnectionDecoder({
      startsAtConnectionStart: options.startsAtConnectionStart,
      maxBodyCapture,
      onRequest: (m) => this.#onRequest(m),
      onResponse: (m) => this.#onResponse(m),
      onError: (e) => events.decodeError('HTTP2', e),
    });
  }

  get bufferedBytes(): number {
    return this.#decoder.bufferedBytes;
  }

  push(side: MessageSide, bytes: Uint8Array, tsNs: number): void {
    (side === 'request' ? this.#decoder.client : this.#decoder.server).push(bytes, tsNs);
    if (this.#progressIntervalNs > 0 && tsNs >= this.#nextProgressScanNs) this.#reportProgress(tsNs);
  }

  skip(side: MessageSide, length: number, tsNs: number): void {
    (side === 'request' ? this.#decoder.client : this.#decoder.server).skip(length, tsNs);
  }

  /** A stream that stays silent still gets its progress records. */
  tick(nowNs: number): void {
    if (this.#progressIntervalNs > 0 && nowNs >= this.#nextProgressScanNs) this.#reportProgress(nowNs);
  }

  end(tsNs: number): void {
    this.#decoder.client.end(tsNs);
    this.#decoder.server.end(tsNs);
    for (const [id, pending] of [...this.#pending]) this.#report(id, pending.request, pending.response);
  }

  #onRequest(request: Http2Request): void {
    const id = request.streamId;
    if (this.#reported.has(id)) return;
    const pending = this.#pending.get(id);
    if (pending?.response) return this.#report(id, request, pending.response);
    // A reset request is over: the response, if any, will not grow in a way worth waiting for.
    if (request.reset !== undefined) return this.#report(id, request, this.#decoder.server.peek(id) as Http2Response | undefined);
    this.#hold(id, { request });
  }

  #onResponse(response: Http2Response): void {
    const id = response.streamId;
    if (this.#reported.has(id)) return;
    const pending = this.#pending.get(id);
    if (pending?.request) return this.#report(id, pending.request, response);
    // The server finished (or reset) first; the request as it stands is all we will learn of
    // it in time (a client may never half-close a stream the server has ended).
    const open = this.#decoder.client.peek(id) as Http2Request | undefined;
    if (open) return this.#report(id, open, response);
    this.#hold(id, { response });
  }

  #hold(id: number, pending: Pending): void {
    if (this.#pending.size >= MAX_PENDING_STREAMS) {
      const [oldId, oldest] = this.#pending.entries().next().value!;
      this.events.decodeError('HTTP2', {
        code: Http2SessionErrorCode.PENDING_EVICTED,
        offset: (oldest.request ?? oldest.response)!.endOffset,
        message: `more than ${MAX_PENDING_STREAMS} streams awaiting their other half; reporting stream ${oldId} alone`,
      });
      this.#report(oldId, oldest.request, oldest.response);
    }
    this.#pending.set(id, pending);
  }

  #report(id: number, request: Http2Request | undefined, response: Http2Response | undefined): void {
    this.#pending.delete(id);
    this.#progressAt.delete(id);
    this.#reported.add(id);
    if (this.#reported.size > REPORTED_STREAMS_REMEMBERED) this.#reported.delete(this.#reported.values().next().value!);
    if (!request) {
      this.events.unpairedResponse('HTTP2');
      return;
    }
    this.events.exchange(this.#exchange(request, response, false));
  }

  #exchange(request: Http2Request, response: Http2Response | undefined, inProgress: boolean): Exchange {
    const headersTrusted = request.headersTrusted && (response?.headersTrusted ?? true);
    const exchange: Exchange = { protocol: 'HTTP2', request, headersTrusted, streamId: request.streamId };
    if (response) exchange.response = response;
    const grpc = this.#grpc(request, response, inProgress);
    if (grpc) {
      exchange.protocol = 'GRPC';
      exchange.grpc = grpc;
    }
    return exchange;
  }

  /** The gRPC part of the flow; fields not seen are left out, not written empty. */
  #grpc(request: Http2Request, response: Http2Response | undefined, inProgress: boolean): GrpcInfo | undefined {
    const contentType = headerValue(request.headers, 'content-type') ?? (response && headerValue(response.headers, 'content-type'));
    if (!isGrpcContentType(contentType)) return undefined;
    const call = grpcCallInfo(request.target, response?.headers, response?.trailers);
    const grpc: GrpcInfo = {
      service: call.service,
      method: call.method,
      requestMessages: request.grpcMessageCount ?? 0,
      responseMessages: response?.grpcMessageCount ?? 0,
    };
    if (call.status !== undefined) grpc.status = call.status;
    if (call.message !== undefined) grpc.message = call.message;
    if (inProgress) grpc.inProgress = true;
    if (this.#payloadDecoder) {
      const decode = this.#payloadDecoder;
      const requestPayloads = request.body ? decode(request.target, 'request', request.body, headerValue(request.headers, 'grpc-encoding')) : [];
      const responsePayloads = response?.body ? decode(request.target, 'response', response.body, headerValue(response.headers, 'grpc-encoding')) : [];
      if (requestPayloads.length > 0) grpc.requestPayloads = requestPayloads;
      if (responsePayloads.length > 0) grpc.responsePayloads = responsePayloads;
    }
    return grpc;
  }

  /** At most once per interval: gRPC streams open for an interval since their start or last record get one. */
  #reportProgress(nowNs: number): void {
    this.#nextProgressScanNs = nowNs + Math.min(this.#progressIntervalNs, 1e9);
    const open = [...this.#decoder.client.openStreamIds()].map((id) => this.#decoder.client.peek(id) as Http2Request);
    // Half-closed by the client (server streaming): the request is complete, the response is not.
    for (const pending of this.#pending.values()) if (pending.request) open.push(pending.request);
    for (const request of open) {
      const id = request.streamId;
      const since = this.#progressAt.get(id) ?? request.startNs;
      if (nowNs - since < this.#progressIntervalNs) continue;
      const response = this.#pending.get(id)?.response ?? (this.#decoder.server.peek(id) as Http2Response | undefined);
      const exchange = this.#exchange(request, response, true);
      if (exchange.protocol !== 'GRPC') continue;
      this.#progressAt.set(id, nowNs);
      this.events.exchange(exchange);
    }
  }
}
