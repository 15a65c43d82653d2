// The agent's one HTTP port (default 127.0.0.1:7070): /metrics, /healthz,
// /readyz, the REST API under /v1/, the /v1/stream WebSocket and, through a
// handler given by the caller, the web page. Off loopback (or whenever a token
// file is given) every request but the health checks needs a bearer token;
// TLS is optional. Stream connections per client IP are capped.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import client from 'prom-client';
import { WebSocketServer } from 'ws';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Anomaly, Endpoint, Severity } from '../schema/flow.js';
import type { RecordType } from '../stream/stream-codec.js';
import { StreamHub, type PublishedRecord, type StreamOptions } from '../stream/stream-hub.js';
import { BearerAuth } from './bearer-auth.js';

export interface AnomalyQuery {
  state: 'open' | 'closed' | 'all';
  severity?: Severity;
}

/** Parts of the API backed by other stages; a missing one answers 503 "not enabled". */
export interface ServerProviders {
  map?(): unknown;
  anomalies?(query: AnomalyQuery): Anomaly[];
  /** Accepts an anomaly into the baseline; false when the id is unknown. */
  accept?(id: string): boolean;
  /** Forgets what was learnt for a workload; returns how many baseline entries were reset. */
  relearn?(workload: string): number;
}

export interface AgentServerOptions {
  host: string;
  port: number;
  registry?: client.Registry;
  status: () => Record<string, unknown>;
  ready: () => boolean;
  providers?: ServerProviders;
  /** Serves `/` and `/assets/*`; returns false for paths it does not know. */
  staticHandler?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** File holding the bearer token; required off loopback. */
  tokenFile?: string;
  tls?: { certFile: string; keyFile: string };
  stream?: Partial<StreamOptions>;
  maxStreamsPerClient?: number;
  log?: Logger;
}

const SEVERITIES: readonly Severity[] = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
const OPEN_PATHS = new Set(['/healthz', '/readyz']);

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * Browsers send Origin on cross-site requests and WebSocket upgrades: a page
 * from another site must neither read the stream nor POST to the API, even on
 * loopback. Clients that are not browsers send no Origin.
 */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Rejects an upgrade request on the raw socket (no HTTP response object exists yet). */
function refuseUpgrade(socket: Socket, status: number, reason: string, headers: Record<string, string> = {}): void {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n${extra}\r\n`);
}

export class AgentServer {
  readonly hub: StreamHub;
  readonly counters = { unauthorized: 0, streamsRefused: 0, providerErrors: 0 };
  readonly #options: AgentServerOptions;
  readonly #providers: ServerProviders;
  #auth: BearerAuth | undefined;
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #streamsPerClient = new Map<string, number>();
  readonly #maxStreamsPerClient: number;
  #localAddresses: Set<string> | undefined;
  /** The port listened on, once known. */
  #port: number | undefined;

  private constructor(options: AgentServerOptions) {
    this.#options = options;
    this.#providers = { ...options.providers };
    this.#maxStreamsPerClient = options.maxStreamsPerClient ?? 16;
    if (!isLoopbackHost(options.host) && !options.tokenFile) {
      throw new FlowscopeError(ErrorCodes.BAD_FLAG, `--listen ${options.host}:${options.port} is off loopback and needs a bearer token`,
        'pass --token-file FILE (e.g. openssl rand -hex 32 > FILE), or listen on 127.0.0.1');
    }
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.#handle(req, res);
    if (options.tls) {
      try {
        this.#server = createTlsServer({ cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) }, handler);
      } catch (err) {
        throw new FlowscopeError(ErrorCodes.BAD_FLAG, `cannot use the TLS certificate or key: ${(err as Error).message}`, 'check --tls-cert and --tls-key (PEM files)');
      }
    } else {
      this.#server = createServer(handler);
    }
    this.#auth = options.tokenFile
      ? new BearerAuth(options.tokenFile, (err) => options.log?.warn({ err: err.message }, 'token file reload failed; keeping the previous token'))
      : undefined;
    this.hub = new StreamHub(options.stream);
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: 64 << 10, perMessageDeflate: false });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.#upgrade(req, socket, head));
    this.#server.on('clientError', (_err, socket) => socket.destroy());
  }

  static async start(options: AgentServerOptions): Promise<AgentServer> {
    const server = new AgentServer(options);
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error): void => {
        server.hub.close();
        server.#auth?.close();
        reject(err);
      };
      server.#server.once('error', failed);
      server.#server.listen(options.port, options.host, () => {
        server.#server.off('error', failed);
        resolve();
      });
    });
    // Errors after start (e.g. out of file descriptors) are logged; they must not end the agent.
    server.#server.on('error', (err) => options.log?.error({ err: err.message }, 'HTTP port error'));
    return server;
  }

  get address(): AddressInfo {
    return this.#server.address() as AddressInfo;
  }

  /**
   * True for the server end of a call to this port from this host (the CLI or
   * a page reading the stream): the agent's own output, not to be streamed
   * back. The agent's side is not captured, so it is known by port and a local
   * address rather than by pid.
   */
  isOwnEndpoint(end: Endpoint): boolean {
    // Asked for every flow: the port is read once (address() is a getsockname call).
    this.#port ??= this.address.port;
    if (end.port !== this.#port) return false;
    this.#localAddresses ??= new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address)));
    return end.pid === process.pid || this.#localAddresses.has(end.ip) || isLoopbackHost(end.ip);
  }

  /** Sends a record to every matching subscriber and keeps it in the history. */
  publish<T extends RecordType>(type: T, record: PublishedRecord[T], json?: Uint8Array): void {
    this.hub.publish(type, record, json);
  }

  /** Fills in API parts as the stages behind them start. */
  provide(providers: ServerProviders): void {
    Object.assign(this.#providers, providers);
  }

  /**
   * Switches to another token file (a config reload). The new file must hold a
   * valid token; off loopback a token cannot be dropped. On error the current
   * token stays in force.
   */
  useTokenFile(tokenFile: string | undefined): void {
    if (tokenFile === this.#auth?.tokenFile) return;
    if (!tokenFile) {
      if (!isLoopbackHost(this.#options.host)) {
        throw new FlowscopeError(ErrorCodes.BAD_FLAG, 'the HTTP port is off loopback: its token file cannot be removed', 'keep stream.tokenFile set, or listen on 127.0.0.1');
      }
      this.#auth?.close();
      this.#auth = undefined;
      return;
    }
    const next = new BearerAuth(tokenFile, (err) => this.#options.log?.warn({ err: err.message }, 'token file reload failed; keeping the previous token'));
    this.#auth?.close();
    this.#auth = next;
  }

  /** Re-reads the token file (SIGHUP). False when there is none or it could not be read. */
  reloadToken(): boolean {
    return this.#auth?.reload() ?? false;
  }

  stats(): Record<string, unknown> {
    return { ...this.hub.stats(), ...this.counters };
  }

  /** Stream and API counters on the agent's Prometheus registry. */
  registerMetrics(registry: client.Registry): void {
    const prom = client;
    const hub = this.hub;
    const counters = this.counters;
    new prom.Gauge({ name: 'flowscope_stream_clients', help: 'WebSocket stream connections open.', registers: [registry], collect() { this.set(hub.clients); } });
    new prom.Counter({
      name: 'flowscope_stream_dropped_total', help: 'Records dropped for stream subscribers that read too slowly.', registers: [registry],
      collect() { this.reset(); this.inc(Number(hub.stats().dropped)); },
    });
    new prom.Counter({
      name: 'flowscope_api_unauthorized_total', help: 'Requests refused for a missing or wrong bearer token.', registers: [registry],
      collect() { this.reset(); this.inc(counters.unauthorized); },
    });
    new prom.Counter({
      name: 'flowscope_stream_refused_total', help: 'Stream connections refused because the client had too many open.', registers: [registry],
      collect() { this.reset(); this.inc(counters.streamsRefused); },
    });
  }

  async close(): Promise<void> {
    this.hub.close();
    this.#auth?.close();
    for (const ws of this.#wss.clients) ws.terminate();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #authorized(req: IncomingMessage, path: string): boolean {
    if (!this.#auth || OPEN_PATHS.has(path)) return true;
    if (this.#auth.allows(req.headers.authorization)) return true;
    this.counters.unauthorized++;
    return false;
  }

  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://agent');
    if (url.pathname !== '/v1/stream') return refuseUpgrade(socket, 404, 'Not Found');
    if (!sameOrigin(req)) return refuseUpgrade(socket, 403, 'Forbidden');
    if (!this.#authorized(req, url.pathname)) return refuseUpgrade(socket, 401, 'Unauthorized', { 'www-authenticate': 'Bearer realm="flowscope"' });
    const ip = socket.remoteAddress ?? 'unknown';
    const open = this.#streamsPerClient.get(ip) ?? 0;
    if (open >= this.#maxStreamsPerClient) {
      this.counters.streamsRefused++;
      return refuseUpgrade(socket, 429, 'Too Many Requests');
    }
    this.#streamsPerClient.set(ip, open + 1);
    let counted = true;
    const release = (): void => {
      if (!counted) return;
      counted = false;
      const n = (this.#streamsPerClient.get(ip) ?? 1) - 1;
      if (n <= 0) this.#streamsPerClient.delete(ip);
      else this.#streamsPerClient.set(ip, n);
    };
    socket.once('close', release);
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.hub.attach(ws, url.searchParams));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://agent');
    const path = url.pathname;
    if (!this.#authorized(req, path)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="flowscope"', 'content-type': 'text/plain' }).end('unauthorized: send Authorization: Bearer <token>\n');
      return;
    }
    try {
      if (req.method === 'POST') {
        if (sameOrigin(req)) this.#post(path, url, res);
        else res.writeHead(403, { 'content-type': 'text/plain' }).end('cross-origin requests are refused\n');
      } else if (req.method === 'GET' || req.method === 'HEAD') this.#get(req, res, path, url);
      else res.writeHead(405, { allow: 'GET, HEAD, POST' }).end();
    } catch (err) {
      this.counters.providerErrors++;
      this.#options.log?.warn({ err: (err as Error).message, path }, 'API request failed');
      if (!res.headersSent) sendJson(res, 500, { error: (err as Error).message });
      else res.destroy();
    }
  }

  #get(req: IncomingMessage, res: ServerResponse, path: string, url: URL): void {
    const o = this.#options;
    switch (path) {
      case '/metrics':
        if (!o.registry) {
          res.writeHead(404).end();
          return;
        }
        o.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': o.registry!.contentType }).end(text),
          (err: Error) => res.writeHead(500).end(err.message),
        );
        return;
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const ready = o.ready();
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'starting\n');
        return;
      }
      case '/v1/status':
        sendJson(res, 200, { ...o.status(), stream: this.stats() });
        return;
      case '/v1/map':
        if (!this.#providers.map) return notEnabled(res, 'the service map');
        sendJson(res, 200, this.#providers.map());
        return;
      case '/v1/anomalies': {
        if (!this.#providers.anomalies) return notEnabled(res, 'anomaly detection');
        const query = anomalyQuery(url.searchParams);
        if (typeof query === 'string') return sendJson(res, 400, { error: query });
        sendJson(res, 200, { anomalies: this.#providers.anomalies(query) });
        return;
      }
      case '/v1/stream':
        res.writeHead(426, { upgrade: 'websocket', 'content-type': 'text/plain' }).end('use a WebSocket client\n');
        return;
    }
    if (o.staticHandler?.(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }

  #post(path: string, url: URL, res: ServerResponse): void {
    const accept = /^\/v1\/anomalies\/([^/]+)\/accept$/.exec(path);
    if (accept) {
      if (!this.#providers.accept) return notEnabled(res, 'anomaly detection');
      const id = decodeURIComponent(accept[1]!);
      if (this.#providers.accept(id)) sendJson(res, 200, { accepted: id });
      else sendJson(res, 404, { error: `no anomaly with id ${id}` });
      return;
    }
    if (path === '/v1/baseline/relearn') {
      if (!this.#providers.relearn) return notEnabled(res, 'the baseline');
      const workload = url.searchParams.get('workload');
      if (!workload) return sendJson(res, 400, { error: 'relearn needs ?workload=NAME' });
      sendJson(res, 200, { workload, reset: this.#providers.relearn(workload) });
      return;
    }
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
  }
}

function notEnabled(res: ServerResponse, what: string): void {
  sendJson(res, 503, { error: `not enabled: ${what} is not running in this agent` });
}

function anomalyQuery(params: URLSearchParams): AnomalyQuery | string {
  const state = (params.get('state') ?? 'open').toLowerCase();
  if (state !== 'open' && state !== 'closed' && state !== 'all') return 'state must be open, closed or all';
  const rawSeverity = params.get('severity');
  if (rawSeverity === null) return { state };
  const severity = rawSeverity.toUpperCase() as Severity;
  if (!SEVERITIES.includes(severity)) return 'severity must be low, medium, high or critical';
  return { state, severity };
}
