import { describe, expect, it } from 'vitest';
import { formatIp } from '../../../agent/capture/ip-format.js';

const v6 = (...groups: number[]) => {
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
};

describe('formatIp', () => {
  it('prints IPv4 from the first four bytes', () => {
    expect(formatIp(Buffer.from([198, 18, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 0, 4)).toBe('198.18.0.7');
  });
  it('prints IPv6 compressed as RFC 5952 asks', () => {
    expect(formatIp(v6(0, 0, 0, 0, 0, 0, 0, 1), 0, 6)).toBe('::1');
    expect(formatIp(v6(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1), 0, 6)).toBe('2001:db8::1:0:0:1');
    expect(formatIp(v6(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6), 0, 6)).toBe('2001:db8:1:2:3:4:5:6');
    expect(formatIp(v6(0, 0, 0, 0, 0, 0, 0, 0), 0, 6)).toBe('::');
  });
  it('prints IPv4-mapped IPv6 as IPv4 so both ends of a connection agree', () => {
    expect(formatIp(v6(0, 0, 0, 0, 0, 0xffff, 0x7f00, 0x0001), 0, 6)).toBe('127.0.0.1');
  });
});
