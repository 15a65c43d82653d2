// Low false positives: ordinary requests with quotes, operators, dots, JSON and
// form bodies, browser headers and valid JWTs, through every content and
// per-source detector in detect mode, raise nothing.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createContentDetectors } from '../../../../agent/detect/content/index.js';
import type { Finding } from '../../../../agent/detect/finding.js';
import { createSourceDetectors } from '../../../../agent/detect/source/index.js';
import { ObservationFactory, type HttpRequestSpec } from './http-observations.js';

const fixtures = new URL('../../../fixtures/attacks/', import.meta.url);
const requestLines = readFileSync(new URL('benign-requests.txt', fixtures), 'utf8')
  .split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'))
  .map((l) => { const [method, target] = l.split(' '); return { method: method!, target: target! }; });
const bodies = JSON.parse(readFileSync(new URL('benign-bodies.json', fixtures), 'utf8')) as [string, string][];

const NOW = Date.parse('2026-11-23T12:00:00Z');

function signedJwt(payload: object): string {
  const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(payload)}`;
  return `${head}.${createHmac('sha256', 'k').update(head).digest('base64url')}`;
}

// Header sets real clients send: browsers, SDKs, service-to-service callers with bearer tokens over TLS.
const HEADER_SETS: Record<string, string>[] = [
  {},
  {
    'User-Agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
    Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
    'Accept-Language': 'en-US,en;q=0.9,fr;q=0.8', Referer: 'http://localhost:3000/dashboard?tab=orders',
    Cookie: '_ga=GA1.2.1234567890.1700000000; theme=dark; session_id=5f3e2a1b9c8d7e6f',
    'If-None-Match': 'W/"5e-1a2b3c4d"', 'Sec-Fetch-Mode': 'navigate',
  },
  {
    'User-Agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
    'X-Forwarded-For': '198.18.0.5, 10.0.0.1', 'X-Request-Id': '4bf92f35-77b3-4da6-a3ce-929d0e0e4736',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  },
  { 'User-Agent': 'okhttp/4.12.0', Authorization: `Bearer ${signedJwt({ sub: 'svc-checkout', exp: NOW / 1000 + 3600, iat: NOW / 1000 })}` },
  { 'User-Agent': 'grpc-go/1.59.0', 'X-Api-Version': '2024-11-01', 'Cache-Control': 'no-cache' },
];

function benignExchanges(): { request: HttpRequestSpec; tls: boolean }[] {
  const out: { request: HttpRequestSpec; tls: boolean }[] = [];
  requestLines.forEach(({ method, target }, i) => {
    const headers = HEADER_SETS[i % HEADER_SETS.length]!;
    // Bearer tokens travel over TLS; plaintext bearer use is what SENSITIVE_DATA reports.
    out.push({ request: { method, target, headers }, tls: 'Authorization' in headers });
  });
  bodies.forEach(([contentType, body], i) => {
    for (const target of ['/api/v1/submit', `/api/v1/forms/${(i % 5) + 1}`]) {
      out.push({ request: { method: 'POST', target, headers: { 'Content-Type': contentType }, body }, tls: false });
    }
  });
  return out;
}

describe('benign traffic', () => {
  it('produces zero findings from every content and per-source detector over 200+ requests', () => {
    const factory = new ObservationFactory();
    const detectors = [...createContentDetectors(), ...createSourceDetectors()];
    const exchanges = benignExchanges();
    expect(exchanges.length).toBeGreaterThanOrEqual(200);
    const findings: Finding[] = [];
    exchanges.forEach(({ request, tls }, i) => {
      const response = { status: request.method === 'POST' ? 201 : 200, body: '{"ok":true,"items":[{"id":1,"name":"Widget"}]}' };
      // Two clients, one request every 2 s each: a normal pace, spread over several windows.
      const obs = factory.observe(request, response, { tls, workload: i % 2 ? 'web' : 'checkout', nowMs: NOW + i * 1000 });
      for (const detector of detectors) findings.push(...(detector.observe(obs) ?? []));
    });
    expect(findings.map((f) => `${f.kind} ${f.subject} ${f.details['rule'] ?? ''} ${f.flow.http.path}`)).toEqual([]);
  });
});
