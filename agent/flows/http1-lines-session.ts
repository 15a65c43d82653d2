// HTTP/1 from message heads only (the bpftrace engine): every pushed chunk is
// the first bytes of one message — its start line and whatever header lines
// fit — and the rest of the message is skipped. Requests and responses pair
// first-in first-out as in Http1Session; every exchange says its headers were cut.
// A response is reported once its size is known: when the skip for the rest
// of its first call arrives, when the next message starts, or at the next tick.
import { HTTP1_ERRORS } from '../../decoders/http1/http1-decoder.js';
import type { HeaderField, HttpRequest, HttpResponse } from '../../decoders/message.js';
import type { MessageSide, ProtocolSession, SessionEvents } from './exchange.js';

const MAX_PENDING_REQUESTS = 1024;
const REQUEST_LINE = /^([A-Z]{1,16}) (\S{1,8192}) (HTTP\/1\.[01])$/;
const STATUS_LINE = /^(HTTP\/1\.[01]) (\d{3})(?: (.*))?$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;

export class Http1LinesSession implements ProtocolSession {
  readonly #pending: HttpRequest[] = [];
  readonly #offset: Record<MessageSide, number> = { request: 0, response: 0 };
  /** The last message started on each side: skipped bytes after its head still belong to it. */
  readonly #last: Record<MessageSide, HttpRequest | HttpResponse | undefined> = { request: undefined, response: undefined };
  /** A paired response waiting for its size. */
  #answered: { request: HttpRequest; response: HttpResponse } | undefined;

  constructor(readonly events: SessionEvents) {}

  get bufferedBytes(): number {
    return 0;
  }

  push(side: MessageSide, bytes: Uint8Array, tsNs: number): void {
    this.#reportAnswered();
    const startOffset = this.#offset[side];
    this.#offset[side] += bytes.length;
    const head = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
    const lines = head.split('\r\n');
    const complete = lines.slice(0, -1); // the last piece was cut (or is the empty tail)
    const startLine = lines[0]!;
    const headers: HeaderField[] = [];
    for (const line of complete.slice(1)) {
      if (line === '') break;
      const m = HEADER_LINE.exec(line);
      if (m) headers.push([m[1]!, m[2]!]);
    }
    const base = {
      headers, headerBytes: bytes.length, bodyBytes: 0, bodyTruncated: false,
      startNs: tsNs, endNs: tsNs, startOffset, endOffset: startOffset + bytes.length,
    };
    if (side === 'request') {
      const m = REQUEST_LINE.exec(startLine);
      if (!m) return this.#badStartLine(side, startOffset);
      const request: HttpRequest = { type: 'request', method: m[1]!, target: m[2]!, version: m[3]!, ...base };
      this.#last.request = request;
      if (this.#pending.length >= MAX_PENDING_REQUESTS) this.events.exchange({ protocol: 'HTTP1', request: this.#pending.shift()!, headersCut: true });
      this.#pending.push(request);
      return;
    }
    const m = STATUS_LINE.exec(startLine);
    if (!m) return this.#badStartLine(side, startOffset);
    const response: HttpResponse = { type: 'response', status: Number(m[2]), reason: m[3] ?? '', version: m[1]!, ...base };
    this.#last.response = response;
    // 1xx responses are interim: the final response answers the same request.
    if (response.status < 200) return;
    const request = this.#pending.shift();
    if (!request) {
      this.events.unpairedResponse('HTTP1');
      return;
    }
    this.#answered = { request, response };
  }

  skip(side: MessageSide, length: number): void {
    this.#offset[side] += length;
    const last = this.#last[side];
    if (last) last.endOffset += length;
    if (side === 'response') this.#reportAnswered();
  }

  tick(): void {
    this.#reportAnswered();
  }

  end(): void {
    this.#reportAnswered();
    for (const request of this.#pending.splice(0)) this.events.exchange({ protocol: 'HTTP1', request, headersCut: true });
  }

  #reportAnswered(): void {
    if (!this.#answered) return;
    const { request, response } = this.#answered;
    this.#answered = undefined;
    this.events.exchange({ protocol: 'HTTP1', request, response, headersCut: true });
  }

  #badStartLine(side: MessageSide, offset: number): void {
    this.#last[side] = undefined;
    this.events.decodeError('HTTP1', { code: HTTP1_ERRORS.BAD_START_LINE, offset, message: `${side} head without a valid start line` });
  }
}
