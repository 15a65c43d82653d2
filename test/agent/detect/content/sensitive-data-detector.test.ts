// SENSITIVE_DATA: what counts as sensitive, that only types the baseline never
// had on an (edge, endpoint, location) fire, and that no finding carries the secret.
import { describe, expect, it } from 'vitest';
import { SensitiveDataDetector } from '../../../../agent/detect/content/index.js';
import { isPaymentCardNumber, isPlausibleSsn, luhnValid } from '../../../../agent/detect/content/sensitive-data-rules.js';
import { ObservationFactory } from './http-observations.js';

const factory = new ObservationFactory();
const CARD = '4111 1111 1111 1111';
const AWS_ID = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('sensitive data rules', () => {
  it('accepts Luhn-valid numbers with a known issuer prefix, with or without separators', () => {
    for (const n of ['4111111111111111', '4111-1111-1111-1111', '5500 0000 0000 0004', '340000000000009', '6011000000000004', '30000000000004']) {
      expect(isPaymentCardNumber(n), n).toBe(true);
    }
    expect(luhnValid('4111111111111112')).toBe(false);
    for (const n of ['4111111111111112', '1234567812345670', '0000000000000000', '1700000000000', '9999999999999995']) {
      expect(isPaymentCardNumber(n), n).toBe(false);
    }
  });

  it('accepts SSNs only in issued ranges', () => {
    expect(isPlausibleSsn('123-45-6789')).toBe(true);
    for (const s of ['000-12-3456', '666-12-3456', '912-34-5678', '123-00-4567', '123-45-0000', '078-05-1120']) expect(isPlausibleSsn(s), s).toBe(false);
  });
});

describe('SensitiveDataDetector', () => {
  it('stays quiet while learning and for types learnt on the same edge, endpoint and location', () => {
    const detector = new SensitiveDataDetector();
    const payment = { method: 'POST', target: '/api/v1/payments', headers: { 'Content-Type': 'application/json' }, body: `{"card":"${CARD}"}` };
    expect(detector.observe(factory.observe(payment, { status: 201 }, { workload: 'web', learning: true }))).toBeUndefined();
    expect(detector.observe(factory.observe(payment, { status: 201 }, { workload: 'web' }))).toBeUndefined();
    // The same number coming back in a response is new for that location.
    const leak = detector.observe(factory.observe({ target: '/api/v1/users/7' }, { status: 200, body: `{"name":"x","card":"${CARD}"}` }, { workload: 'web' }))!;
    expect(leak).toHaveLength(1);
    expect(leak[0]).toMatchObject({
      kind: 'SENSITIVE_DATA', severity: 'HIGH', subject: 'credit-card@response-body', endpoint: 'GET /api/v1/users/{id}',
      details: { dataType: 'credit-card', location: 'response-body', masked: '****1111', position: '20', tls: 'false' },
    });
    // Another client on the same endpoint is another edge: its baseline never had card numbers.
    expect(detector.observe(factory.observe(payment, { status: 201 }, { workload: 'batch' }))?.map((f) => f.subject)).toEqual(['credit-card@request-body']);
  });

  it('finds keys, cloud credentials and personal data in bodies, and never shows them', () => {
    const detector = new SensitiveDataDetector();
    const cases: [string, string][] = [
      ['private-key@response-body', '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----'],
      ['aws-access-key-id@response-body', `{"AccessKeyId":"${AWS_ID}"}`],
      ['aws-secret-access-key@response-body', `aws_secret_access_key = ${AWS_SECRET}`],
      ['gcp-service-account-key@response-body', '{"type": "service_account", "project_id": "p", "private_key_id": "0123456789abcdef0123456789abcdef01234567"}'],
      ['azure-connection-string@response-body', `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${'A'.repeat(86)}==;EndpointSuffix=core.windows.net`],
      ['us-ssn@response-body', '{"ssn":"123-45-6789"}'],
      ['github-token@response-body', `token: ghp_${'a1B2'.repeat(9)}`],
      ['token-field@response-body', '{"access_token":"sk-abcdefghijklmnopqrstuvwxyz","expires_in":3600}'],
    ];
    for (const [subject, body] of cases) {
      const findings = detector.observe(factory.observe({ target: '/api/v1/export' }, { status: 200, body }, { workload: 'web' }));
      expect(findings?.map((f) => f.subject), subject).toContain(subject);
      const text = JSON.stringify(findings!.map(({ flow: _flow, ...rest }) => rest));
      for (const secret of [AWS_SECRET, 'MIIEpAIBAAKCAQEA7', 'A'.repeat(40), '123-45-6789', 'a1B2a1B2a1B2', 'sk-abcdefghijklmnopqrstuvwxyz']) {
        expect(text, subject).not.toContain(secret);
      }
    }
  });

  it('reports bearer tokens and API keys on plaintext connections only', () => {
    const detector = new SensitiveDataDetector();
    const request = { target: '/api/v1/orders', headers: { Authorization: 'Bearer 0123456789abcdefSECRET', 'X-Api-Key': 'k-9f8e7d6c5b4a' } };
    const plain = detector.observe(factory.observe(request, { status: 200 }, { workload: 'web' }))!;
    expect(plain.map((f) => f.subject).sort()).toEqual(['api-key-plaintext@header:x-api-key', 'bearer-token-plaintext@header:authorization']);
    expect(plain.find((f) => f.subject.startsWith('bearer'))!.details['masked']).toBe('****CRET');
    expect(detector.observe(factory.observe(request, { status: 200 }, { workload: 'web', tls: true }))).toBeUndefined();
  });

  it('reports credentials in URLs by parameter name, masked', () => {
    const detector = new SensitiveDataDetector();
    const findings = detector.observe(factory.observe({ target: '/v1/data?format=csv&api_key=Zx9Yw8Vu7Ts6Rq5P' }, { status: 200 }, { workload: 'web', tls: true }))!;
    expect(findings.map((f) => [f.subject, f.details['masked'], f.details['position']])).toEqual([['credential-in-url@url:api_key', '****Rq5P', '11']]);
    expect(findings[0]!.summary).not.toContain('Zx9Yw8Vu7Ts6Rq5P');
    expect(findings[0]!.flow.http.path).toBe('/v1/data?(query withheld)');
  });

  it('finds a card number in a path segment and keeps it out of the evidence flow', () => {
    const detector = new SensitiveDataDetector();
    const findings = detector.observe(factory.observe({ target: '/api/v1/cards/4111111111111111/limits' }, { status: 200 }, { workload: 'web', tls: true }))!;
    expect(findings.map((f) => [f.subject, f.details['masked']])).toEqual([['credit-card@url', '****1111']]);
    expect(findings[0]!.flow.http.path).toBe('/api/v1/cards/{id}/limits');
  });

  it('skips compressed bodies and counts them', () => {
    const detector = new SensitiveDataDetector();
    const findings = detector.observe(factory.observe({ target: '/x' }, { status: 200, headers: { 'Content-Encoding': 'gzip' }, body: `{"card":"${CARD}"}` }));
    expect(findings).toBeUndefined();
    expect(detector.counters.encodedBodies).toBe(1);
  });

  it('forgets the least recent baseline keys beyond its cap, and counts them', () => {
    const detector = new SensitiveDataDetector({ maxBaselineKeys: 2 });
    for (const id of [1, 2, 3]) {
      detector.observe(factory.observe({ target: `/api/v${id}/cards` }, { status: 200, body: CARD }, { learning: true }));
    }
    expect(detector.evictedBaselineKeys).toBe(1);
    expect(detector.observe(factory.observe({ target: '/api/v3/cards' }, { status: 200, body: CARD }))).toBeUndefined();
    expect(detector.observe(factory.observe({ target: '/api/v1/cards' }, { status: 200, body: CARD }))).toHaveLength(1);
  });
});
