// HTTP sinks: Splunk HEC, Elasticsearch/OpenSearch _bulk and a generic
// webhook. One POST per batch, gzip when configured, keep-alive connections.
// 2xx is delivered; 408, 429 and 5xx are retried (Retry-After honoured); any
// other status refuses the batch for good. A bulk response with per-item
// errors sends again only the items refused with 429/5xx.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { ElasticsearchSinkConfig, HttpSinkConfig, SplunkHecSinkConfig } from '../config.js';
import { DeliveryError, parseRetryAfter, type SendResult, type Transport } from './delivery.js';

const gzip = promisify(gzipCallback);
/** Response bodies are read up to this size (bulk responses list every item). */
const MAX_RESPONSE_BYTES = 16 << 20;

interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Joins spooled records into one request body. */
export function requestBody(config: HttpSinkConfig, records: Buffer[]): Buffer {
  if (config.type === 'webhook') {
    const parts: Buffer[] = [Buffer.from('[')];
    records.forEach((r, i) => parts.push(...(i > 0 ? [Buffer.from(','), r] : [r])));
    parts.push(Buffer.from(']'));
    return Buffer.concat(parts);
  }
  // HEC events and bulk pairs are already newline-terminated by the encoder.
  return Buffer.concat(records);
}

export function endpointUrl(config: HttpSinkConfig): URL {
  const url = new URL(config.url);
  const bare = url.pathname === '/' || url.pathname === '';
  if (config.type === 'splunk_hec' && bare) url.pathname = '/services/collector/event';
  if (config.type === 'elasticsearch' && !url.pathname.endsWith('/_bulk')) url.pathname = `${url.pathname.replace(/\/$/, '')}/_bulk`;
  return url;
}

function authorization(config: HttpSinkConfig): string | undefined {
  if (config.type === 'splunk_hec') {
    // The token file is read per batch so a rotated token takes effect without a restart.
    const token = (config as SplunkHecSinkConfig).token ?? readFileSync((config as SplunkHecSinkConfig).tokenFile!, 'utf8').trim();
    return `Splunk ${token}`;
  }
  if (config.type === 'elasticsearch') {
    const es = config as ElasticsearchSinkConfig;
    if (es.apiKey) return `ApiKey ${es.apiKey}`;
    if (es.username) return `Basic ${Buffer.from(`${es.username}:${es.password ?? ''}`).toString('base64')}`;
    return undefined;
  }
  return config.bearerToken ? `Bearer ${config.bearerToken}` : undefined;
}

export class HttpTransport implements Transport {
  readonly #config: HttpSinkConfig;
  readonly #url: URL;
  readonly #agent: http.Agent;
  readonly #client: typeof http | typeof https;
  #connected = false;

  constructor(config: HttpSinkConfig) {
    this.#config = config;
    this.#url = endpointUrl(config);
    const secure = this.#url.protocol === 'https:';
    this.#client = secure ? https : http;
    const t = config.tls ?? {};
    this.#agent = secure
      ? new https.Agent({
        keepAlive: true, maxSockets: 1, rejectUnauthorized: !t.insecureSkipVerify,
        ...(t.serverName ? { servername: t.serverName } : {}),
        ...(t.caFile ? { ca: readFileSync(t.caFile) } : {}),
        ...(t.certFile ? { cert: readFileSync(t.certFile) } : {}),
        ...(t.keyFile ? { key: readFileSync(t.keyFile) } : {}),
      })
      : new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  get connected(): boolean {
    return this.#connected;
  }

  async send(records: Buffer[]): Promise<SendResult> {
    const plain = requestBody(this.#config, records);
    const body = this.#config.gzip ? await gzip(plain) : plain;
    const headers: Record<string, string> = {
      ...this.#config.headers,
      'content-type': this.#config.type === 'elasticsearch' ? 'application/x-ndjson' : 'application/json',
      'content-length': String(body.length),
      'user-agent': 'flowscope',
    };
    if (this.#config.gzip) headers['content-encoding'] = 'gzip';
    const auth = authorization(this.#config);
    if (auth) headers.authorization = auth;
    let reply: HttpReply;
    try {
      reply = await this.#post(body, headers);
    } catch (err) {
      this.#connected = false;
      throw new DeliveryError(`POST ${this.#url.origin}${this.#url.pathname} failed: ${(err as Error).message}`, true);
    }
    const { status } = reply;
    if (status >= 200 && status < 300) {
      this.#connected = true;
      return this.#config.type === 'elasticsearch' ? bulkOutcome(reply.body, records) : { rejected: 0 };
    }
    const retryable = status === 408 || status === 429 || status >= 500;
    this.#connected = status < 500 && status !== 429;
    throw new DeliveryError(
      `POST ${this.#url.pathname} answered ${status}: ${reply.body.slice(0, 200).replace(/\s+/g, ' ')}`,
      retryable,
      retryable ? parseRetryAfter(singleHeader(reply.headers['retry-after'])) : undefined,
    );
  }

  #post(body: Buffer, headers: Record<string, string>): Promise<HttpReply> {
    return new Promise((resolve, reject) => {
      const req = this.#client.request(this.#url, { method: 'POST', headers, agent: this.#agent, timeout: this.#config.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#config.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  async close(): Promise<void> {
    this.#agent.destroy();
  }
}

function singleHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * A bulk request succeeds as a whole even when items fail: items refused with
 * 429 or 5xx are sent again, other refusals (mapping errors) are counted.
 */
export function bulkOutcome(body: string, records: Buffer[]): SendResult {
  let parsed: { errors?: boolean; items?: Array<Record<string, { status?: number }>> };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return { rejected: 0 }; // 2xx without a readable body: taken as accepted
  }
  if (!parsed.errors || !Array.isArray(parsed.items)) return { rejected: 0 };
  const retry: Buffer[] = [];
  let rejected = 0;
  parsed.items.forEach((item, i) => {
    const status = Object.values(item ?? {})[0]?.status ?? 0;
    if (status >= 200 && status < 300) return;
    if ((status === 429 || status >= 500) && records[i]) retry.push(records[i]!);
    else rejected++;
  });
  return retry.length > 0 ? { rejected, retry } : { rejected };
}
