// The content detectors remember what their rule sets found in a value (a
// path, a header value, a body). A remembered verdict must be exactly what
// matching again would give: every fixture payload and random strings, in
// every place a request or response carries them, are observed twice by the
// same detector (first matched, then remembered) and the findings compared.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BodyVerdicts, TextVerdicts } from '../../../../agent/detect/content/verdict-cache.js';
import { InjectionDetector, JwtDetector, SensitiveDataDetector } from '../../../../agent/detect/content/index.js';
import type { Detector, Observation } from '../../../../agent/detect/finding.js';
import { ObservationFactory } from './http-observations.js';

const fixtures = new URL('../../../fixtures/attacks/', import.meta.url);
const lines = (name: string): string[] =>
  readFileSync(new URL(name, fixtures), 'latin1').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
const PAYLOAD_FILES = ['sqli.txt', 'command.txt', 'log4shell.txt', 'traversal.txt', 'ssrf.txt', 'template.txt', 'scan-paths.txt'];
const payloads = PAYLOAD_FILES.flatMap(lines);
const benignTargets = lines('benign-requests.txt').map((l) => l.split(' ')[1]!);
const benignBodies = JSON.parse(readFileSync(new URL('benign-bodies.json', fixtures), 'utf8')) as [string, string][];
const SECRETS = ['eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', '4111 1111 1111 1111', '123-45-6789', 'AKIAIOSFODNN7EXAMPLE', '"password": "hunter2hunter2hunter2"', '-----BEGIN RSA PRIVATE KEY-----'];

/** Percent-encodes what cannot stand in a request line (raw text goes in too, as hostile clients send it). */
const inTarget = (text: string): string => text.replace(/[\s#&+"<>\\^`{|}]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** The value as a path segment, a query parameter, header values, a form and JSON body and a response body. */
function observations(base: Observation, value: string, index: number): Observation[] {
  const request = base.exchange.request;
  const response = base.exchange.response!;
  const bytes = (text: string): Uint8Array => Buffer.from(text, 'latin1');
  const json = JSON.stringify({ q: value, n: index });
  const with_ = (target: string, headers: [string, string][], body?: Uint8Array, responseBody?: Uint8Array, status = 200): Observation => ({
    ...base,
    flow: { ...base.flow, http: { ...base.flow.http, path: target, status } },
    exchange: {
      ...base.exchange,
      request: { ...request, target, headers: [['Host', 'api.internal'], ...headers], ...(body ? { body } : {}) },
      response: { ...response, headers: [['Content-Type', 'application/json']], ...(responseBody ? { body: responseBody } : {}) },
    },
  });
  return [
    with_(`/api/items/${value}`, []),
    with_(`/api/items/${inTarget(value)}`, []),
    with_(`/api/items?q=${inTarget(value)}&access_token=${inTarget(value)}`, []),
    with_('/api/items', [['X-Note', value], ['Cookie', `s=${value}`], ['X-Api-Key', value], ['Authorization', `Bearer ${value}`]], undefined, undefined, 401),
    with_('/api/form', [['Content-Type', 'application/x-www-form-urlencoded']], bytes(`q=${encodeURIComponent(value)}`)),
    with_('/api/json', [['Content-Type', 'application/json']], bytes(json), bytes(JSON.stringify({ echo: value }))),
  ];
}

/** Each observation twice through one set of detectors: the second time answers from what the first remembered. */
function expectSameTwice(detectors: Detector[], list: Observation[]): void {
  const first = list.map((obs) => detectors.map((d) => d.observe(obs)));
  const again = list.map((obs) => detectors.map((d) => d.observe(obs)));
  expect(again).toEqual(first);
}

describe('remembered verdicts of the content detectors', () => {
  it('agree with matching on every fixture payload, benign request and body, wherever it sits', () => {
    const base = new ObservationFactory().observe({ target: '/' }, { status: 200 });
    const values = [...payloads, ...benignTargets, ...benignBodies.map(([, body]) => body), ...SECRETS];
    const list = values.flatMap((value, i) => observations(base, value, i));
    const detectors = [new InjectionDetector(), new SensitiveDataDetector(), new JwtDetector()];
    expectSameTwice(detectors, list);
    // The fixtures do trigger: the comparison covers findings, not only silence.
    const kinds = new Set(list.flatMap((obs) => detectors.flatMap((d) => d.observe(obs) ?? [])).map((f) => f.kind));
    expect([...kinds].sort()).toEqual(['INJECTION', 'JWT_WEAKNESS', 'SENSITIVE_DATA']);
  });

  it('agree with matching on random strings mixed with rule fragments', () => {
    const base = new ObservationFactory().observe({ target: '/' }, { status: 200 });
    const detectors = [new InjectionDetector(), new SensitiveDataDetector(), new JwtDetector()];
    const fragment = fc.constantFrom("' or 1=1 --", 'union select', '${jndi:', '../', '%2e%2e/', '{{7*7}}', ';cat /etc/passwd', '4111 1111 1111 1111',
      'AKIA', 'eyJhbGciOiJub25lIn0.eyJ4IjoxfQ.', '\u017fecret_access_key=', '\u212a', 'http://169.254.169.254/', '<%= 7*7 %>', ' ');
    const text = fc.array(fc.oneof(fc.string({ maxLength: 12 }), fragment, fc.fullUnicodeString({ maxLength: 6 })), { maxLength: 8 }).map((parts) => parts.join(''));
    let index = 0;
    fc.assert(fc.property(text, (value) => {
      expectSameTwice(detectors, observations(base, value, index++));
    }), { numRuns: 150 });
  });
});

describe('TextVerdicts', () => {
  it('keeps at most its cap and never keeps long texts', () => {
    const verdicts = new TextVerdicts<number>(3, 10);
    for (let i = 0; i < 3; i++) verdicts.set(`t${i}`, i);
    expect(verdicts.get('t2')).toBe(2);
    verdicts.set('t3', 3); // full: starts over
    expect([verdicts.get('t0'), verdicts.get('t3')]).toEqual([undefined, 3]);
    verdicts.set('x'.repeat(11), 9);
    expect(verdicts.get('x'.repeat(11))).toBeUndefined();
  });
});

describe('BodyVerdicts', () => {
  it('tells bodies of the same length apart by their bytes, and copies what it keeps', () => {
    const verdicts = new BodyVerdicts<string>(8, 2);
    const a = Buffer.from('{"id":1}');
    verdicts.set(a, 'a');
    expect(verdicts.get(Buffer.from('{"id":2}'))).toBeUndefined();
    expect(verdicts.get(new Uint8Array(Buffer.from('{"id":1}')))).toBe('a');
    a.write('{"id":3}');
    expect(verdicts.get(a)).toBeUndefined();
    expect(verdicts.get(Buffer.from('{"id":1}'))).toBe('a');
  });

  it('finds a body inside a larger buffer (a subarray view)', () => {
    const verdicts = new BodyVerdicts<string>();
    verdicts.set(Buffer.from('hello'), 'h');
    const big = Buffer.from('xxhelloxx');
    expect(verdicts.get(big.subarray(2, 7))).toBe('h');
  });

  it('stays bounded: a few per length, and starts over past its cap', () => {
    const verdicts = new BodyVerdicts<number>(4, 2);
    for (let i = 0; i < 3; i++) verdicts.set(Buffer.from(`b${i}`), i);
    expect([verdicts.get(Buffer.from('b0')), verdicts.get(Buffer.from('b1')), verdicts.get(Buffer.from('b2'))]).toEqual([undefined, 1, 2]);
    verdicts.set(Buffer.from('c'), 10);
    verdicts.set(Buffer.from('dd0'), 11);
    verdicts.set(Buffer.from('dd1'), 12); // 4 kept: the next starts over
    verdicts.set(Buffer.from('e'), 13);
    expect([verdicts.get(Buffer.from('b1')), verdicts.get(Buffer.from('e'))]).toEqual([undefined, 13]);
  });
});
