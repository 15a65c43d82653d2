import { describe, expect, it } from 'vitest';
import { Redactor } from '../../../agent/redact/redact.js';

describe('Redactor.target', () => {
  const r = new Redactor(Buffer.alloc(32, 1));
  it('leaves targets without sensitive parameters untouched', () => {
    expect(r.target('/users/42?page=2&sort=name')).toBe('/users/42?page=2&sort=name');
    expect(r.target('/plain')).toBe('/plain');
  });
  it('replaces sensitive values with a keyed fingerprint that still correlates', () => {
    const a = r.target('/cb?code=abc123&state=x&access_token=SECRET');
    expect(a).not.toContain('SECRET');
    expect(a).not.toContain('abc123');
    expect(a).toMatch(/^\/cb\?code=REDACTED-[0-9a-f]{8}&state=x&access_token=REDACTED-[0-9a-f]{8}$/);
    expect(r.target('/x?api_key=SECRET')).toBe(r.target('/x?api_key=SECRET'));
    expect(new Redactor(Buffer.alloc(32, 2)).target('/x?api_key=SECRET')).not.toBe(r.target('/x?api_key=SECRET'));
  });
  it('matches percent-encoded names and survives malformed escapes', () => {
    expect(r.target('/x?api%5Fkey=s')).toMatch(/REDACTED-/);
    expect(r.target('/x?%E0%A4%A=1&token=t')).toMatch(/^\/x\?%E0%A4%A=1&token=REDACTED-/);
  });
});

describe('Redactor.jsonText', () => {
  const redactor = new Redactor(Buffer.alloc(32, 7));
  it('fingerprints sensitive fields at any depth and keeps the rest', () => {
    const text = JSON.stringify({ user: 'alice', password: 'hunter2', nested: { apiKey: 'k-123', list: [{ access_token: 'abc' }] }, count: 3 });
    const out = JSON.parse(redactor.jsonText(text));
    expect(out.user).toBe('alice');
    expect(out.count).toBe(3);
    expect(out.password).toMatch(/^REDACTED-[0-9a-f]{8}$/);
    expect(out.nested.apiKey).toMatch(/^REDACTED-/);
    expect(out.nested.list[0].access_token).toMatch(/^REDACTED-/);
    expect(JSON.stringify(out)).not.toMatch(/hunter2|k-123|"abc"/);
  });
  it('leaves text that is not JSON, or has nothing sensitive, exactly as it was', () => {
    expect(redactor.jsonText('{"@error": "truncated", "length": 5}')).toBe('{"@error": "truncated", "length": 5}');
    expect(redactor.jsonText('not json')).toBe('not json');
  });
});
