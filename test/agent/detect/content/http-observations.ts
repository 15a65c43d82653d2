// Observations the way the agent makes them: real HTTP/1.1 bytes pushed
// through a Pipeline, and the (flow, exchange) it hands its listeners turned
// into an Observation with the templated endpoint.
import type { ConnOpenEvent, DataEvent } from '../../../../agent/capture/socket-event.js';
import { templatePath } from '../../../../agent/baseline/path-template.js';
import type { Observation } from '../../../../agent/detect/finding.js';
import type { Exchange } from '../../../../agent/flows/exchange.js';
import { Pipeline } from '../../../../agent/pipeline.js';
import type { Flow } from '../../../../agent/schema/flow.js';

export interface ExchangeOptions {
  /** Client identity: the workload name the identity stage would give it. */
  workload?: string;
  clientIp?: string;
  serverPort?: number;
  tls?: boolean;
  nowMs?: number;
  learning?: boolean;
}

export interface HttpRequestSpec {
  method?: string;
  target: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface HttpResponseSpec {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
}

/** Builds request bytes a client would send. */
export function requestBytes(spec: HttpRequestSpec): string {
  const headers: Record<string, string> = { Host: 'api.internal', 'User-Agent': 'curl/8.5.0', Accept: '*/*', ...spec.headers };
  if (spec.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(spec.body, 'latin1'));
  const lines = Object.entries(headers).map(([n, v]) => `${n}: ${v}\r\n`).join('');
  return `${spec.method ?? 'GET'} ${spec.target} HTTP/1.1\r\n${lines}\r\n${spec.body ?? ''}`;
}

export function responseBytes(spec: HttpResponseSpec = {}): string {
  const body = spec.body ?? '';
  const status = spec.status ?? 200;
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ...spec.headers, 'Content-Length': String(Buffer.byteLength(body, 'latin1')) };
  const lines = Object.entries(headers).map(([n, v]) => `${n}: ${v}\r\n`).join('');
  return `HTTP/1.1 ${status} X\r\n${lines}\r\n${body}`;
}

/** One long-lived pipeline; each exchange travels on a fresh connection. */
export class ObservationFactory {
  readonly #pipeline = new Pipeline({ maxBodyCapture: 65_536, maxConnections: 1_000_000 });
  #captured: { flow: Flow; exchange: Exchange } | undefined;
  #fd = 10;
  #workload: string | undefined;

  constructor() {
    this.#pipeline.onFlow((flow, exchange) => {
      this.#captured = { flow, exchange };
    });
    this.#pipeline.addEnricher((end, local) => {
      if (local && this.#workload) end.workload = this.#workload;
    });
  }

  observe(request: HttpRequestSpec, response: HttpResponseSpec | undefined, options: ExchangeOptions = {}): Observation {
    return this.observeBytes(
      Buffer.from(requestBytes(request), 'latin1'), response ? Buffer.from(responseBytes(response), 'latin1') : undefined, options);
  }

  /** The observation for bytes as a real client and server exchanged them. */
  observeBytes(request: Buffer, response: Buffer | undefined, options: ExchangeOptions = {}): Observation {
    const fd = ++this.#fd;
    this.#workload = options.workload;
    const clientIp = options.clientIp ?? '127.0.0.1';
    const base = { tgid: 4242, tid: 4242, fd, connGen: fd };
    const open: ConnOpenEvent = {
      kind: 'open', ...base, tsNs: 1_000, role: 'client', preexisting: false, family: 4,
      localIp: clientIp, localPort: 30_000 + (fd % 30_000), remoteIp: '127.0.0.1', remotePort: options.serverPort ?? 8080,
      comm: 'client', uid: 1000, cgroupId: 1,
    };
    const data = (direction: 'egress' | 'ingress', payload: Buffer): DataEvent => {
      return {
        kind: 'data', ...base, tsNs: 2_000, direction, source: options.tls ? 'ssl' : 'syscall', protocol: 'http1',
        pos: 0, len: payload.length, payload,
      };
    };
    this.#captured = undefined;
    this.#pipeline.handle(open, 0);
    this.#pipeline.handle(data('egress', request), 0);
    if (response) this.#pipeline.handle(data('ingress', response), 0);
    this.#pipeline.handle({
      kind: 'close', ...base, tsNs: 9_000, role: 'client', protocol: 'http1', tls: false, bytesSent: 1, bytesRecv: 0, startNs: 1_000,
    }, 0);
    const captured = this.#captured as { flow: Flow; exchange: Exchange } | undefined;
    if (!captured) throw new Error(`no flow for ${request.subarray(0, 80).toString('latin1')}`);
    const { template, params } = templatePath(captured.exchange.request.target);
    const nowMs = options.nowMs ?? Date.parse('2026-11-23T12:00:00Z');
    // The observation's time is the flow's time: tests run on a simulated clock.
    captured.flow.time = new Date(nowMs).toISOString();
    return {
      flow: captured.flow,
      exchange: captured.exchange,
      endpoint: `${captured.exchange.request.method} ${template}`,
      pathParams: params,
      nowMs,
      learning: options.learning ?? false,
    };
  }
}
