import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeHuffman } from '../../../decoders/http2/huffman.js';
import { hex, huffmanEncode } from './h2-builders.js';

const decode = (b: Uint8Array) => decodeHuffman(b, 0, b.length);

describe('decodeHuffman', () => {
  it('decodes the RFC 7541 Appendix C.4 and C.6 strings', () => {
    expect(decode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff'))).toBe('www.example.com');
    expect(decode(hex('a8eb 1064 9cbf'))).toBe('no-cache');
    expect(decode(hex('25a8 49e9 5ba9 7d7f'))).toBe('custom-key');
    expect(decode(hex('25a8 49e9 5bb8 e8b4 bf'))).toBe('custom-value');
    expect(decode(hex('6402'))).toBe('302');
    expect(decode(hex('aec3 771a 4b'))).toBe('private');
    expect(decode(hex('d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff'))).toBe('Mon, 21 Oct 2013 20:13:21 GMT');
    expect(decode(hex('9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3'))).toBe('https://www.example.com');
  });

  it('decodes the empty string', () => {
    expect(decode(new Uint8Array(0))).toBe('');
  });

  it('rejects a string containing the EOS symbol', () => {
    // EOS is 30 one-bits; 4 bytes of 0xff contain it.
    expect(decode(hex('ffff ffff'))).toBeUndefined();
  });

  it('rejects padding longer than seven bits', () => {
    // 'a' (00011, 5 bits) then 11 one-bits of padding.
    expect(decode(hex('1f ff'))).toBeUndefined();
    expect(decode(hex('1f'))).toBe('a');
  });

  it('rejects padding that is not all ones', () => {
    // 'a' then padding 000.
    expect(decode(hex('18'))).toBeUndefined();
  });

  it('decodes whatever the encoder produced for any octet string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (octets) => {
        const expected = String.fromCharCode(...octets);
        expect(decode(Uint8Array.from(huffmanEncode([...octets])))).toBe(expected);
      }),
    );
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const s = decode(b);
        expect(s === undefined || typeof s === 'string').toBe(true);
      }),
    );
  });
});
