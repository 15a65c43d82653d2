import { describe, expect, it } from 'vitest';
import { BlockList } from 'node:net';
import { compilePattern, NamingRules, parseIpv4 } from '../../../agent/identity/naming-rules.js';
import { FlowscopeError } from '../../../agent/errors.js';

describe('compilePattern', () => {
  it('anchors globs on the whole string', () => {
    expect(compilePattern('nginx*').test('nginx: worker')).toBe(true);
    expect(compilePattern('nginx*').test('my-nginx')).toBe(false);
    expect(compilePattern('/usr/sbin/ngin?').test('/usr/sbin/nginx')).toBe(true);
    expect(compilePattern('py[0-9].*').test('py3.11')).toBe(true);
    expect(compilePattern('[!a]b').test('ab')).toBe(false);
    expect(compilePattern('[!a]b').test('cb')).toBe(true);
  });

  it('treats regex metacharacters in globs literally', () => {
    expect(compilePattern('a.b+(c)').test('a.b+(c)')).toBe(true);
    expect(compilePattern('a.b+(c)').test('axbb(c)')).toBe(false);
  });

  it('takes /…/ as an unanchored regex', () => {
    expect(compilePattern('/^java$|python/').test('python3')).toBe(true);
    expect(compilePattern('/^java$/').test('javac')).toBe(false);
  });
});

describe('NamingRules', () => {
  const rules = new NamingRules([
    { match: { comm: 'nginx', port: 8443 }, workload: 'edge-tls' },
    { match: { comm: 'nginx' }, workload: 'edge' },
    { match: { exe: '/opt/billing/*' }, workload: 'billing' },
    { match: { cgroup: '^/system\\.slice/postgresql' }, workload: 'db' },
    { match: { cidr: '198.18.0.0/24' }, workload: 'partner-api' },
    { match: { cidr: '2001:db8::/32' }, workload: 'partner-v6', kind: 'External' },
    { match: { cidr: '198.18.1.7' }, workload: 'one-host' },
  ]);

  it('takes the first rule whose every condition holds', () => {
    expect(rules.match({ ip: '127.0.0.1', port: 8443, comm: 'nginx' })).toEqual({ workload: 'edge-tls' });
    expect(rules.match({ ip: '127.0.0.1', port: 80, comm: 'nginx' })).toEqual({ workload: 'edge' });
    expect(rules.match({ ip: '10.0.0.1', port: 9000, comm: 'java', exe: '/opt/billing/bin/java' })).toEqual({ workload: 'billing' });
    expect(rules.match({ ip: '10.0.0.1', port: 5432, comm: 'postgres', cgroupPath: '/system.slice/postgresql@15-main.service' })).toEqual({ workload: 'db' });
  });

  it('names ends without a process by address block only', () => {
    expect(rules.match({ ip: '198.18.0.200', port: 443 })).toEqual({ workload: 'partner-api' });
    expect(rules.match({ ip: '198.18.1.7', port: 443 })).toEqual({ workload: 'one-host' });
    expect(rules.match({ ip: '198.18.1.8', port: 443 })).toBeUndefined();
    expect(rules.match({ ip: '2001:db8:1::5', port: 443 })).toEqual({ workload: 'partner-v6', kind: 'External' });
    // Process conditions never hold for an end without a process.
    expect(rules.match({ ip: '10.1.1.1', port: 80 })).toBeUndefined();
    expect(rules.match({ ip: 'not-an-ip', port: 80 })).toBeUndefined();
    expect(rules.matchesRemoteEnds).toBe(true);
  });

  it('rejects bad rules when built, naming the rule', () => {
    const bad = [
      [{ match: { comm: '/(/' }, workload: 'x' }],
      [{ match: { comm: 'a[b' }, workload: 'x' }],
      [{ match: { cidr: '198.18.0.0/33' }, workload: 'x' }],
      [{ match: { cidr: 'example.com/8' }, workload: 'x' }],
      [{ match: { port: 70000 }, workload: 'x' }],
      [{ match: {}, workload: 'x' }],
      [{ match: { comm: 'a' }, workload: '' }],
    ];
    for (const rule of bad) {
      expect(() => new NamingRules(rule), JSON.stringify(rule)).toThrow(FlowscopeError);
    }
    expect(() => new NamingRules([{ match: { comm: 'ok' }, workload: 'ok' }, { match: { cidr: 'x' }, workload: 'y' }])).toThrow(/rule 2/);
  });
});

describe('parseIpv4', () => {
  it('parses dotted quads and rejects everything else', () => {
    expect(parseIpv4('198.18.0.1')).toBe(0xc6120001);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('0.0.0.0')).toBe(0);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '1.2.3.256', '1..2.3', '.1.2.3', '1.2.3.', 'a.b.c.d', '::1', '1.2.3.4 ']) {
      expect(parseIpv4(bad), bad).toBe(-1);
    }
  });

  it('agrees with node:net BlockList on random addresses and blocks', () => {
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0);
    for (let i = 0; i < 500; i++) {
      const ip = [next() & 255, next() & 255, next() & 255, next() & 255].join('.');
      const block = `${[next() & 255, next() & 255, next() & 255, next() & 255].join('.')}/${next() % 33}`;
      const list = new BlockList();
      list.addSubnet(block.split('/')[0]!, Number(block.split('/')[1]), 'ipv4');
      const rules = new NamingRules([{ match: { cidr: block }, workload: 'x' }]);
      expect(rules.match({ ip, port: 1 }) !== undefined, `${ip} in ${block}`).toBe(list.check(ip, 'ipv4'));
    }
  });
});
