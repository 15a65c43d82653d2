// The CLI's side of /v1/stream: subscribes, hands each message over, and in
// follow mode survives a lost agent: it says so on stderr and reconnects with
// backoff (0.5 s doubling to 10 s), asking only for new records.
import WebSocket from 'ws';
import { FlowscopeError, ErrorCodes } from '../errors.js';
import { filterSpecToQuery } from '../filter/filter-flags.js';
import type { FilterSpec } from '../filter/filter-spec.js';
import { authHeaders, statusError, unreachable, type ServerTarget } from '../server/api-client.js';
import { decodeFrame, type StreamKind, type StreamMessage } from './stream-codec.js';

export interface StreamRequest {
  kinds: StreamKind[];
  filter: FilterSpec;
  last: number;
  /** Keep receiving live records; otherwise stop once the history has arrived. */
  follow: boolean;
}

export interface StreamHandlers {
  message(message: StreamMessage): void;
  /** Connection notices for a person (stderr). */
  notice(text: string): void;
}

const BACKOFF_MS = { first: 500, max: 10_000 };
/** The agent pings every 30 s; silence for this long means it is gone. */
const SILENCE_MS = 75_000;

export function streamUrl(target: ServerTarget, request: StreamRequest, last: number): URL {
  const url = new URL('/v1/stream', target.base);
  url.protocol = target.base.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('kinds', request.kinds.join(','));
  url.searchParams.set('last', String(last));
  filterSpecToQuery(request.filter, url.searchParams);
  return url;
}

export class StreamClient {
  #ws: WebSocket | undefined;
  #stopped = false;
  #finish: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly target: ServerTarget,
    readonly request: StreamRequest,
    readonly handlers: StreamHandlers,
  ) {}

  /** Resolves when the history is in (not following) or after stop(); rejects on an error a person must fix. */
  run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#finish = resolve;
      let everConnected = false;
      let backoff = BACKOFF_MS.first;
      const connect = (last: number): void => {
        if (this.#stopped) return;
        const ws = new WebSocket(streamUrl(this.target, this.request, last), { headers: authHeaders(this.target), perMessageDeflate: false });
        this.#ws = ws;
        let historyLeft = -1;
        let lastError: Error | undefined;
        let watchdog: NodeJS.Timeout | undefined;
        const feed = (): void => {
          clearTimeout(watchdog);
          watchdog = setTimeout(() => ws.terminate(), SILENCE_MS);
          watchdog.unref();
        };
        ws.on('open', () => {
          if (everConnected) this.handlers.notice(`reconnected to the agent at ${this.target.base.origin}`);
          everConnected = true;
          backoff = BACKOFF_MS.first;
          feed();
        });
        ws.on('ping', feed);
        ws.on('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString('utf8')));
          res.on('end', () => fail(statusError(this.target, res.statusCode ?? 0, 'stream', body)));
          res.on('error', () => fail(statusError(this.target, res.statusCode ?? 0, 'stream')));
        });
        ws.on('message', (data, isBinary) => {
          feed();
          let message: StreamMessage;
          try {
            message = decodeFrame(data as Buffer, isBinary);
          } catch {
            this.handlers.notice('skipped a frame that was not a stream message');
            return;
          }
          if (message.type === 'error') {
            fail(new FlowscopeError(ErrorCodes.BAD_FLAG, `the agent refused the subscription: ${message.message}`, 'fix the filter flags; see --help'));
            return;
          }
          if (message.type === 'subscribed') historyLeft = message.history;
          else if (historyLeft > 0 && message.type !== 'dropped') historyLeft--;
          this.handlers.message(message);
          if (!this.request.follow && historyLeft === 0) this.stop();
        });
        ws.on('error', (err) => {
          // 'close' follows and decides what to do.
          lastError = err;
        });
        ws.on('close', (code) => {
          clearTimeout(watchdog);
          if (this.#stopped) {
            resolve();
            return;
          }
          if (!everConnected || !this.request.follow) {
            fail(everConnected
              ? new FlowscopeError(ErrorCodes.OUTPUT, `the agent at ${this.target.base.origin} closed the stream (code ${code})`, 'check that the agent is still running')
              : unreachable(this.target, lastError ?? new Error(`closed with code ${code}`)));
            return;
          }
          this.handlers.notice(`lost the connection to the agent at ${this.target.base.origin}; reconnecting in ${(backoff / 1000).toFixed(1)} s`);
          this.#timer = setTimeout(() => connect(0), backoff);
          backoff = Math.min(backoff * 2, BACKOFF_MS.max);
        });
      };
      const fail = (err: Error): void => {
        this.#stopped = true;
        clearTimeout(this.#timer);
        this.#ws?.terminate();
        reject(err);
      };
      connect(this.request.last);
    });
  }

  /** Closes the stream (Ctrl-C, or the history is complete). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    const ws = this.#ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) {
      this.#finish?.();
      return;
    }
    ws.close(1000);
    // A peer that does not answer the close handshake is not waited for.
    setTimeout(() => ws.terminate(), 1000).unref();
  }
}
