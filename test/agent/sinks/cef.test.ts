import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { escapeCefExtension, escapeCefHeader, toCef } from '../../../agent/sinks/format/cef.js';
import { sampleAnomaly, sampleConnection, sampleFlow } from './fixtures/records.js';

/** Reads a CEF line back the way a receiver does: 7 header fields split on unescaped "|", then key=value pairs. */
function parseCef(line: string): { header: string[]; ext: Record<string, string> } {
  const header: string[] = [];
  let field = '';
  let i = 0;
  for (; i < line.length && header.length < 7; i++) {
    const c = line[i]!;
    if (c === '\\' && (line[i + 1] === '|' || line[i + 1] === '\\')) {
      field += line[++i];
    } else if (c === '|') {
      header.push(field);
      field = '';
    } else field += c;
  }
  const rest = line.slice(i);
  const ext: Record<string, string> = {};
  // A key starts after a space (or at the start) and ends at an unescaped "=".
  const keyAt = /(?:^| )([A-Za-z0-9_]+)=/g;
  const starts: Array<{ key: string; valueStart: number; keyStart: number }> = [];
  for (let m = keyAt.exec(rest); m; m = keyAt.exec(rest)) {
    if (m.index > 0 && isEscaped(rest, m.index + m[0].length - 1)) continue;
    starts.push({ key: m[1]!, valueStart: m.index + m[0].length, keyStart: m.index });
  }
  starts.forEach((s, n) => {
    const end = n + 1 < starts.length ? starts[n + 1]!.keyStart : rest.length;
    ext[s.key] = unescapeExtension(rest.slice(s.valueStart, end));
  });
  return { header, ext };
}

function isEscaped(s: string, at: number): boolean {
  let slashes = 0;
  for (let j = at - 1; j >= 0 && s[j] === '\\'; j--) slashes++;
  return slashes % 2 === 1;
}

function unescapeExtension(v: string): string {
  return v.replace(/\\(\\|=|n|r)/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

const hostile = [
  'a|b', 'back\\slash', 'trailing\\', 'eq=uals', 'line\nbreak', 'crlf\r\nend', 'cr\ronly',
  '|\\|=\\=', 'ünïcødé ✓ 日本', ' spaced = value ', 'key=value other=thing', '\\n literal',
];

describe('CEF escaping', () => {
  it('escapes backslash and pipe in header fields and folds line breaks', () => {
    expect(escapeCefHeader('a|b\\c')).toBe('a\\|b\\\\c');
    expect(escapeCefHeader('one\ntwo\r\nthree')).toBe('one two three');
    expect(escapeCefHeader('a=b')).toBe('a=b');
  });
  it('escapes backslash, equals and line breaks in extension values, not pipes', () => {
    expect(escapeCefExtension('a=b\\c|d')).toBe('a\\=b\\\\c|d');
    expect(escapeCefExtension('one\ntwo\r\nthree\rfour')).toBe('one\\ntwo\\r\\nthree\\rfour');
  });
  it.each(hostile)('keeps the hostile string %j intact through a flow line', (text) => {
    const flow = sampleFlow({ http: { method: 'GET', path: `/x/${text}`, host: text, status: 200, requestBytes: '1', responseBytes: '2' } });
    const line = toCef('flow', flow);
    expect(line).not.toMatch(/[\r\n]/);
    const { header, ext } = parseCef(line);
    expect(header).toHaveLength(7);
    expect(header[5]).toBe(`HTTP GET /x/${text}`.replace(/\r\n|[\r\n]/g, ' '));
    expect(ext.dhost).toBe(text);
    expect(ext.requestMethod).toBe('GET');
    expect(ext.dpt).toBe('8080');
  });
  it('round-trips any string through header and extension escaping', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => {
      const anomaly = sampleAnomaly({ summary: text, details: undefined });
      const line = toCef('anomaly', anomaly);
      expect(line).not.toMatch(/[\r\n]/);
      const { header, ext } = parseCef(line);
      expect(header[5]).toBe(text.replace(/\r\n|[\r\n]/g, ' '));
      if (text.trim() !== '') expect(ext.msg).toBe(text);
    }), { numRuns: 300 });
  });
});

describe('CEF records', () => {
  it('maps anomaly severities onto 0-10', () => {
    const sev = (severity: 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL'): string => parseCef(toCef('anomaly', sampleAnomaly({ severity }))).header[6]!;
    expect([sev('LOW'), sev('MEDIUM'), sev('HIGH'), sev('CRITICAL')]).toEqual(['3', '5', '8', '10']);
  });
  it('writes the header and endpoint fields of a flow', () => {
    const { header, ext } = parseCef(toCef('flow', sampleFlow()));
    expect(header.slice(0, 3)).toEqual(['CEF:0', 'flowscope', 'flowscope']);
    expect(header[4]).toBe('flow:HTTP1');
    expect(ext).toMatchObject({
      src: '127.0.0.1', spt: '41000', dst: '127.0.0.1', dpt: '8080', requestMethod: 'GET',
      request: 'http://web.shop:8080/users/42?expand=orders', outcome: '200', in: '78', out: '250', sproc: 'curl',
      cs2Label: 'destinationWorkload', cs2: 'shop/web', rt: String(Date.parse('2026-11-23T09:00:00.123Z')),
    });
  });
  it('writes a connection record with its byte counts', () => {
    const { header, ext } = parseCef(toCef('connection', sampleConnection()));
    expect(header[4]).toBe('connection:CONN_HTTP1');
    expect(ext).toMatchObject({ in: '1000', out: '20000', cs3: 'true', externalId: '1:2:3' });
  });
  it('carries anomaly details as escaped JSON', () => {
    const { ext } = parseCef(toCef('anomaly', sampleAnomaly({ details: { 'a=b': 'x\\y\nz' } })));
    expect(JSON.parse(ext.cs5!)).toEqual({ 'a=b': 'x\\y\nz' });
    expect(ext.cs3).toBe('T1021');
    expect(ext.cat).toBe('NEW_EDGE');
  });
});
