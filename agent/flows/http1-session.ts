// HTTP/1.x on one connection: a request decoder and a response decoder, paired
// first-in first-out (keep-alive and pipelining answer requests in order).
import { Http1Decoder } from '../../decoders/http1/http1-decoder.js';
import type { HttpRequest, HttpResponse } from '../../decoders/message.js';
import type { MessageSide, ProtocolSession, SessionEvents } from './exchange.js';

/** Requests awaiting a response beyond this are reported without one. */
const MAX_PENDING_REQUESTS = 1024;

export interface Http1SessionOptions {
  maxBodyCapture: number;
}

export class Http1Session implements ProtocolSession {
  readonly #pending: HttpRequest[] = [];
  /**
   * A final response that completed while its request was still arriving: a
   * server may answer (404, 413, 401) before it has read the request body.
   */
  #early: HttpResponse | undefined;
  readonly #requests: Http1Decoder;
  readonly #responses: Http1Decoder;

  constructor(
    readonly events: SessionEvents,
    options: Http1SessionOptions,
  ) {
    const onError = events.decodeError.bind(events, 'HTTP1');
    this.#requests = new Http1Decoder({
      side: 'request',
      onMessage: (m) => this.#onRequest(m as HttpRequest),
      onError,
      maxBodyCapture: options.maxBodyCapture,
    });
    this.#responses = new Http1Decoder({
      side: 'response',
      onMessage: (m) => this.#onResponse(m as HttpResponse),
      onError,
      maxBodyCapture: options.maxBodyCapture,
      requestMethod: () => this.#pending[0]?.method,
    });
  }

  get bufferedBytes(): number {
    return this.#requests.bufferedBytes + this.#responses.bufferedBytes;
  }

  push(side: MessageSide, bytes: Uint8Array, tsNs: number): void {
    (side === 'request' ? this.#requests : this.#responses).push(bytes, tsNs);
  }

  skip(side: MessageSide, length: number, tsNs: number): void {
    (side === 'request' ? this.#requests : this.#responses).skip(length, tsNs);
  }

  end(tsNs: number): void {
    this.#requests.end(tsNs);
    this.#responses.end(tsNs);
    if (this.#early) this.#dropEarly();
    for (const request of this.#pending.splice(0)) this.events.exchange({ protocol: 'HTTP1', request });
  }

  #onRequest(request: HttpRequest): void {
    if (this.#early) {
      if (this.#pending.length === 0 && request.startNs <= this.#early.startNs) {
        const response = this.#early;
        this.#early = undefined;
        this.#pair(request, response);
        return;
      }
      this.#dropEarly();
    }
    if (this.#pending.length >= MAX_PENDING_REQUESTS) {
      this.events.exchange({ protocol: 'HTTP1', request: this.#pending.shift()! });
    }
    this.#pending.push(request);
  }

  #onResponse(response: HttpResponse): void {
    // Interim responses (100 Continue, 103 Early Hints) precede the final one.
    if (response.status >= 100 && response.status < 200 && response.status !== 101) return;
    // A response that began before the oldest pending request answers a request
    // we never decoded (lost in a gap): pairing it would shift every later pair.
    if (this.#pending.length === 0) {
      if (this.#early) this.#dropEarly();
      this.#early = response;
      return;
    }
    if (this.#pending[0]!.startNs > response.startNs) {
      this.events.unpairedResponse('HTTP1');
      return;
    }
    this.#pair(this.#pending.shift()!, response);
  }

  #pair(request: HttpRequest, response: HttpResponse): void {
    if (response.status === 101 || (request.method === 'CONNECT' && response.status >= 200 && response.status < 300)) {
      // The connection now carries another protocol: stop decoding it as HTTP/1.
      this.#requests.stop();
      this.#responses.stop();
    } else {
      // A request decoder holding bytes after an Upgrade or CONNECT request goes on
      // decoding them as HTTP/1 (a no-op when it holds nothing).
      this.#requests.resume();
    }
    this.events.exchange({ protocol: 'HTTP1', request, response });
  }

  #dropEarly(): void {
    this.#early = undefined;
    this.events.unpairedResponse('HTTP1');
  }
}
