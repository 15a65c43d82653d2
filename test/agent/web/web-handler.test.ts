import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebHandler } from '../../../agent/web/web-handler.js';

let server: Server;
let base: string;

beforeAll(async () => {
  const handle = createWebHandler();
  server = createServer((req, res) => {
    if (!handle(req, res)) res.writeHead(418).end('not the page');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.close();
});

describe('web handler', () => {
  it('serves the page at / with a CSP that allows no inline script', async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'self';/);
    expect(res.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/assets/app.js"></script>');
    // Every script is an external file; no inline handlers either.
    expect(html.match(/<script\b[^>]*>/g)?.every((tag) => tag.includes(' src='))).toBe(true);
    expect(html).not.toMatch(/\son[a-z]+=/);
  });

  it('serves each asset with its content type', async () => {
    for (const [name, type] of [['app.js', 'text/javascript; charset=utf-8'], ['style.css', 'text/css; charset=utf-8'], ['favicon.svg', 'image/svg+xml']]) {
      const res = await fetch(`${base}/assets/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get('content-type'), name).toBe(type);
    }
  });

  it('loads nothing from outside the agent', async () => {
    for (const name of ['index.html', 'app.js', 'style.css', 'graph-view.js']) {
      const text = await (await fetch(name === 'index.html' ? `${base}/` : `${base}/assets/${name}`)).text();
      expect(text, name).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    }
  });

  it('answers 404 for unknown assets and never reads outside the asset folder', async () => {
    expect((await fetch(`${base}/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${base}/assets/..%2Fweb-handler.ts`)).status).toBe(404);
    expect((await fetch(`${base}/assets/../../package.json`)).status).toBe(418); // normalised by fetch to /package.json: not ours
  });

  it('leaves other paths to the caller', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(418);
    expect((await fetch(`${base}/v1/stream`)).status).toBe(418);
  });

  it('answers HEAD without a body, 304 on a matching etag and 405 on writes', async () => {
    const head = await fetch(`${base}/assets/app.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const etag = head.headers.get('etag')!;
    expect((await fetch(`${base}/assets/app.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const post = await fetch(`${base}/`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});
