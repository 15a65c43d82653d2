// Serves the live service-map page: `/` and `/assets/*`. The assets are plain
// ES modules and CSS in agent/web/assets (no build step, no CDN), read once
// into memory, so a request can only ever name one of those files.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { packageRoot } from '../paths.js';

const webAssetsDir = join(packageRoot, 'agent', 'web', 'assets');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

// 'self' covers the page's own WebSocket (same host and port) in CSP level 3;
// connect-src says so explicitly for browsers that predate it.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

export type WebHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (!contentType) continue;
    const body = readFileSync(join(dir, name));
    assets.set(name, { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return assets;
}

/**
 * A request handler for the page: answers `/`, `/index.html` and `/assets/<file>`
 * and returns true; returns false for any other path so the caller can route
 * it (stream, API, metrics).
 */
export function createWebHandler(options: { assetsDir?: string } = {}): WebHandler {
  const assets = loadAssets(options.assetsDir ?? webAssetsDir);
  const index = assets.get('index.html');
  if (!index) throw new Error(`index.html missing from ${options.assetsDir ?? webAssetsDir}`);

  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    let asset: Asset | undefined;
    if (path === '/' || path === '/index.html') {
      asset = index;
    } else if (path.startsWith('/assets/')) {
      const name = path.slice('/assets/'.length);
      asset = name === 'index.html' ? undefined : assets.get(name);
      if (!asset) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS }).end('not found\n');
        return true;
      }
    } else {
      return false;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', ...SECURITY_HEADERS }).end();
      return true;
    }
    const headers = { 'content-type': asset.contentType, etag: asset.etag, ...SECURITY_HEADERS };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers).end();
      return true;
    }
    res.writeHead(200, { ...headers, 'content-length': asset.body.length });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
    return true;
  };
}
