import { describe, expect, it } from 'vitest';
import { compileEndpointMatch } from '../../../agent/filter/endpoint-match.js';
import type { Endpoint } from '../../../agent/schema/flow.js';

const web: Endpoint = { ip: '10.1.2.3', port: 4312, process: 'node', pod: 'web-7d9f-abcde', namespace: 'shop', workload: 'web' };
const db: Endpoint = { ip: 'fd00::5', port: 5432, process: 'postgres', pod: 'db-0', namespace: 'data', workload: 'db' };
const bare: Endpoint = { ip: '127.0.0.1', port: 8080, process: 'nginx' };

function matches(values: string[], end: Endpoint): boolean {
  return compileEndpointMatch('from', values)(end);
}

describe('--from / --to endpoint matching', () => {
  it('matches a bare name against workload, pod and process', () => {
    expect(matches(['web'], web)).toBe(true);
    expect(matches(['web-7d9f-abcde'], web)).toBe(true);
    expect(matches(['nginx'], bare)).toBe(true);
    expect(matches(['we'], web)).toBe(false);
    expect(matches(['db'], web)).toBe(false);
  });

  it('matches namespace/pod and namespace/workload', () => {
    expect(matches(['shop/web'], web)).toBe(true);
    expect(matches(['shop/web-7d9f-abcde'], web)).toBe(true);
    expect(matches(['data/web'], web)).toBe(false);
  });

  it('matches exact IPs and CIDRs of both families', () => {
    expect(matches(['10.1.2.3'], web)).toBe(true);
    expect(matches(['10.1.2.4'], web)).toBe(false);
    expect(matches(['10.0.0.0/8'], web)).toBe(true);
    expect(matches(['10.1.2.0/31'], web)).toBe(false);
    expect(matches(['fd00::/8'], db)).toBe(true);
    expect(matches(['fd00::/8'], web)).toBe(false);
    expect(matches(['127.0.0.0/8'], bare)).toBe(true);
  });

  it('matches IP:PORT and port:N', () => {
    expect(matches(['10.1.2.3:4312'], web)).toBe(true);
    expect(matches(['10.1.2.3:4313'], web)).toBe(false);
    expect(matches(['[fd00::5]:5432'], db)).toBe(true);
    expect(matches(['port:5432'], db)).toBe(true);
    expect(matches(['port:5432'], web)).toBe(false);
  });

  it('takes kind: prefixes to say which field is meant', () => {
    expect(matches(['process:node'], web)).toBe(true);
    expect(matches(['workload:node'], web)).toBe(false);
    expect(matches(['pod:db-0'], db)).toBe(true);
    expect(matches(['namespace:shop'], web)).toBe(true);
    expect(matches(['ip:10.1.0.0/16'], web)).toBe(true);
  });

  it('ORs repeated values', () => {
    expect(matches(['db', 'web'], web)).toBe(true);
    expect(matches(['db', '192.168.0.0/16'], web)).toBe(false);
  });

  it('rejects values it cannot read when compiling', () => {
    for (const bad of ['', '10.0.0.0/33', 'fd00::/129', 'a/b/c', '/web', 'ip:not-an-ip', '10.0.0.0/x', 'port:http', 'port:70000', '10.0.0.1:99999', '[1.2.3]:80']) {
      expect(() => compileEndpointMatch('to', [bad])).toThrow(/bad --to value/);
    }
  });
});
