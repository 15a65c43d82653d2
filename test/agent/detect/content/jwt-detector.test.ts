// JWT_WEAKNESS on real exchanges: unsigned tokens, expired tokens that were
// accepted, tokens in URLs; and a decoder that no input can make throw.
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JwtDetector } from '../../../../agent/detect/content/index.js';
import { decodeJwt } from '../../../../agent/detect/content/jwt.js';
import { ObservationFactory } from './http-observations.js';

const factory = new ObservationFactory();
const NOW = Date.parse('2026-11-23T12:00:00Z');
const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const signed = (payload: object): string => {
  const head = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(payload)}`;
  return `${head}.${createHmac('sha256', 'k').update(head).digest('base64url')}`;
};
const unsigned = (alg: string, payload: object): string => `${enc({ alg, typ: 'JWT' })}.${enc(payload)}.`;
const live = { sub: 'alice', exp: NOW / 1000 + 600 };

describe('JwtDetector', () => {
  const detector = new JwtDetector();
  const checks = (headers: Record<string, string>, status: number, target = '/api/v1/me'): string[] =>
    (detector.observe(factory.observe({ target, headers }, { status }, { nowMs: NOW })) ?? []).map((f) => f.subject);

  it('reports alg none in any case, critical when the server accepted it', () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const findings = detector.observe(factory.observe({ target: '/api/v1/me', headers: { Authorization: `Bearer ${unsigned(alg, live)}` } }, { status: 200 }, { nowMs: NOW }))!;
      expect(findings.map((f) => [f.subject, f.severity, f.details['alg']])).toEqual([['alg-none', 'CRITICAL', alg]]);
    }
    expect(detector.observe(factory.observe({ target: '/', headers: { Cookie: `theme=dark; jwt=${unsigned('none', live)}` } }, { status: 401 }, { nowMs: NOW }))!
      .map((f) => [f.subject, f.severity, f.details['location']])).toEqual([['alg-none', 'HIGH', 'header:cookie']]);
  });

  it('reports an expired token only when the server accepted it', () => {
    const expired = signed({ sub: 'alice', exp: NOW / 1000 - 3600 });
    const findings = detector.observe(factory.observe({ target: '/api/v1/me', headers: { Authorization: `Bearer ${expired}` } }, { status: 200 }, { nowMs: NOW }))!;
    expect(findings.map((f) => f.subject)).toEqual(['expired-accepted']);
    expect(findings[0]!.details).toMatchObject({ expiredSecondsAgo: '3600', expiredAt: new Date(NOW - 3_600_000).toISOString(), alg: 'HS256' });
    expect(JSON.stringify(findings[0]!.details)).not.toContain(expired);
    expect(checks({ Authorization: `Bearer ${expired}` }, 401)).toEqual([]);
    // Within the clock-skew leeway is not expired.
    expect(checks({ Authorization: `Bearer ${signed({ exp: NOW / 1000 - 30 })}` }, 200)).toEqual([]);
  });

  it('reports a JWT in the URL, percent-encoded or not', () => {
    expect(checks({}, 200, `/download?file=a.pdf&access_token=${signed(live)}`)).toEqual(['jwt-in-url']);
    const encoded = detector.observe(factory.observe({ target: `/download?t=${signed(live).replace(/\./g, '%2E')}` }, { status: 200 }, { nowMs: NOW }))!;
    expect(encoded.map((f) => f.subject)).toEqual(['jwt-in-url']);
    expect(encoded[0]!.flow.http.path).toBe('/download?(query withheld)');
  });

  it('stays quiet for valid signed tokens in headers and for things that only look like JWTs', () => {
    expect(checks({ Authorization: `Bearer ${signed(live)}` }, 200)).toEqual([]);
    expect(checks({ Authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJub3QganNvbg.' }, 200)).toEqual([]);
    expect(checks({ Authorization: 'Bearer eyJub3Rqc29u.eyJub3Rqc29u.sig' }, 200)).toEqual([]);
    expect(checks({ Cookie: 'eyJhbGciOiJub25lIn0=; x=1' }, 200)).toEqual([]);
  });

  it('can be limited to some checks', () => {
    const onlyUrl = new JwtDetector({ checks: ['jwt-in-url'] });
    const obs = factory.observe({ target: `/x?token=${unsigned('none', live)}` }, { status: 200 }, { nowMs: NOW });
    expect(onlyUrl.observe(obs)!.map((f) => f.subject)).toEqual(['jwt-in-url']);
    expect(detector.observe(obs)!.map((f) => f.subject)).toEqual(['alg-none', 'jwt-in-url']);
  });
});

describe('decodeJwt', () => {
  it('decodes header and payload and measures the signature', () => {
    expect(decodeJwt(unsigned('none', { a: 1 }))).toEqual({ header: { alg: 'none', typ: 'JWT' }, payload: { a: 1 }, signatureLength: 0 });
  });

  it('never throws and rejects anything that is not three parts of base64url JSON objects', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 300 }), fc.string({ maxLength: 50 }), (a, b, c) => {
      const decoded = decodeJwt(`${a}.${b}.${c}`);
      if (decoded) expect(typeof decoded.header).toBe('object');
    }), { numRuns: 2_000 });
    for (const bad of ['', '.', '..', 'a.b', 'a.b.c.d', `${enc([1])}.${enc({})}.`, `${enc({})}.${'A'.repeat(9000)}.`]) {
      expect(decodeJwt(bad), bad.slice(0, 20)).toBeUndefined();
    }
  });
});
