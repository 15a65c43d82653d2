// The agent's loopback HTTP port: /metrics (Prometheus), /healthz, /readyz and
// /v1/status. Read-only.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type client from 'prom-client';

export interface StatusServerOptions {
  host: string;
  port: number;
  registry: client.Registry;
  status: () => Record<string, unknown>;
  ready: () => boolean;
}

export function startStatusServer(options: StatusServerOptions): Promise<{ server: Server; address: AddressInfo }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (path) {
      case '/metrics':
        options.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
          (err: Error) => res.writeHead(500).end(err.message),
        );
        return;
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const ready = options.ready();
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'starting\n');
        return;
      }
      case '/v1/status':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(options.status()));
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve({ server, address: server.address() as AddressInfo }));
  });
}
