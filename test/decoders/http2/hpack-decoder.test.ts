import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HpackDecoder, HPACK_TABLE_SIZE_CEILING } from '../../../decoders/http2/hpack-decoder.js';
import { Http2ErrorCode } from '../../../decoders/http2/errors.js';
import type { HeaderField } from '../../../decoders/message.js';
import { hex, hpackInt, hpackString, indexed, literalIndexed, tableSizeUpdate } from './h2-builders.js';

/** Dynamic table entries newest first, as the RFC prints them. */
function table(d: HpackDecoder): HeaderField[] {
  const out: HeaderField[] = [];
  for (let i = 0; i < d.dynamicTableLength; i++) out.push(d.entry(62 + i)!);
  return out;
}

function ok(d: HpackDecoder, block: Uint8Array): HeaderField[] {
  const r = d.decode(block);
  expect(r.error).toBeUndefined();
  return r.headers!;
}

describe('HpackDecoder on the RFC 7541 Appendix C examples', () => {
  it('C.2.1 adds a literal with indexing to the dynamic table', () => {
    const d = new HpackDecoder();
    expect(ok(d, hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'))).toEqual([['custom-key', 'custom-header']]);
    expect(table(d)).toEqual([['custom-key', 'custom-header']]);
    expect(d.dynamicTableSize).toBe(55);
  });

  it('C.2.2 decodes a literal without indexing and leaves the table empty', () => {
    const d = new HpackDecoder();
    expect(ok(d, hex('040c 2f73 616d 706c 652f 7061 7468'))).toEqual([[':path', '/sample/path']]);
    expect(d.dynamicTableLength).toBe(0);
  });

  it('C.2.3 decodes a never-indexed literal and leaves the table empty', () => {
    const d = new HpackDecoder();
    expect(ok(d, hex('1008 7061 7373 776f 7264 0673 6563 7265 74'))).toEqual([['password', 'secret']]);
    expect(d.dynamicTableLength).toBe(0);
  });

  it('C.2.4 decodes an indexed static field', () => {
    expect(ok(new HpackDecoder(), hex('82'))).toEqual([[':method', 'GET']]);
  });

  const requests: HeaderField[][] = [
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
    [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
  ];
  const requestTables: [HeaderField[], number][] = [
    [[[':authority', 'www.example.com']], 57],
    [[['cache-control', 'no-cache'], [':authority', 'www.example.com']], 110],
    [[['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']], 164],
  ];

  function runSequence(blocks: string[], expected: HeaderField[][], tables: [HeaderField[], number][], tableSize?: number): void {
    const d = new HpackDecoder(tableSize ? { headerTableSize: tableSize } : {});
    blocks.forEach((block, i) => {
      expect(ok(d, hex(block))).toEqual(expected[i]);
      expect(table(d)).toEqual(tables[i]![0]);
      expect(d.dynamicTableSize).toBe(tables[i]![1]);
    });
  }

  it('C.3 decodes three requests without Huffman coding on one connection', () => {
    runSequence(
      [
        '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        '8286 84be 5808 6e6f 2d63 6163 6865',
        '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
      ],
      requests,
      requestTables,
    );
  });

  it('C.4 decodes three requests with Huffman coding on one connection', () => {
    runSequence(
      ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8286 84be 5886 a8eb 1064 9cbf', '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'],
      requests,
      requestTables,
    );
  });

  const responses: HeaderField[][] = [
    [[':status', '302'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com']],
    [[':status', '307'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com']],
    [
      [':status', '200'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
      ['location', 'https://www.example.com'],
      ['content-encoding', 'gzip'],
      ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
    ],
  ];
  const responseTables: [HeaderField[], number][] = [
    [[['location', 'https://www.example.com'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['cache-control', 'private'], [':status', '302']], 222],
    [[[':status', '307'], ['location', 'https://www.example.com'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['cache-control', 'private']], 222],
    [
      [
        ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
        ['content-encoding', 'gzip'],
        ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
      ],
      215,
    ],
  ];

  it('C.5 decodes three responses without Huffman coding, evicting from a 256-byte table', () => {
    runSequence(
      [
        '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        '4803 3330 37c1 c0bf',
        '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
      ],
      responses,
      responseTables,
      256,
    );
  });

  it('C.6 decodes three responses with Huffman coding, evicting from a 256-byte table', () => {
    runSequence(
      [
        '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
        '4883 640e ffc1 c0bf',
        '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
      ],
      responses,
      responseTables,
      256,
    );
  });
});

describe('HpackDecoder limits and hostile input', () => {
  it('bounds the decoded size of an HPACK bomb that references one big entry thousands of times', () => {
    const d = new HpackDecoder({ maxHeaderListSize: 65536 });
    const big = 'x'.repeat(4000);
    const block = [...literalIndexed('bomb', big)];
    for (let i = 0; i < 5000; i++) block.push(...indexed(62));
    const r = d.decode(Uint8Array.from(block));
    expect(r.error?.code).toBe(Http2ErrorCode.HPACK_HEADER_LIST_TOO_LARGE);
    expect(r.truncated).toBe(true);
    expect(r.listSize).toBeLessThanOrEqual(65536);
    expect(r.headers!.length).toBeLessThan(20);
    // Dropping fields does not desynchronise the table.
    expect(d.trusted).toBe(true);
    expect(ok(d, Uint8Array.from(indexed(62)))).toEqual([['bomb', big]]);
  });

  it('reports integer overflow and stops trusting the table', () => {
    const d = new HpackDecoder();
    const r = d.decode(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]));
    expect(r.error?.code).toBe(Http2ErrorCode.HPACK_INTEGER_OVERFLOW);
    expect(r.headers).toBeUndefined();
    expect(d.trusted).toBe(false);
  });

  it('reports an endless run of zero continuation bytes as overflow', () => {
    const block = new Uint8Array(100).fill(0x80);
    block[0] = 0xff;
    expect(new HpackDecoder().decode(block).error?.code).toBe(Http2ErrorCode.HPACK_INTEGER_OVERFLOW);
  });

  it('reports index 0 and indexes past the table', () => {
    expect(new HpackDecoder().decode(Uint8Array.from([0x80])).error?.code).toBe(Http2ErrorCode.HPACK_INVALID_INDEX);
    expect(new HpackDecoder().decode(Uint8Array.from(indexed(62))).error?.code).toBe(Http2ErrorCode.HPACK_INVALID_INDEX);
  });

  it('reports an invalid Huffman string', () => {
    const block = Uint8Array.from([0x40, 0x84, 0xff, 0xff, 0xff, 0xff, 0x01, 0x61]);
    const d = new HpackDecoder();
    expect(d.decode(block).error?.code).toBe(Http2ErrorCode.HPACK_INVALID_HUFFMAN);
    expect(d.trusted).toBe(false);
  });

  it('reports a string running past the end of the block', () => {
    expect(new HpackDecoder().decode(Uint8Array.from([0x40, 0x05, 0x61])).error?.code).toBe(Http2ErrorCode.HPACK_TRUNCATED);
  });

  it('reports a table size update above SETTINGS_HEADER_TABLE_SIZE', () => {
    const d = new HpackDecoder();
    expect(d.decode(Uint8Array.from(tableSizeUpdate(8192))).error?.code).toBe(Http2ErrorCode.HPACK_TABLE_SIZE_TOO_LARGE);
    expect(d.trusted).toBe(false);
  });

  it('accepts a larger table once the peer announced it, but never above the ceiling', () => {
    const d = new HpackDecoder();
    d.allowHeaderTableSize(16384);
    expect(d.decode(Uint8Array.from(tableSizeUpdate(16384))).error).toBeUndefined();
    expect(d.maxDynamicTableSize).toBe(16384);
    d.allowHeaderTableSize(2 ** 30);
    expect(d.decode(Uint8Array.from(tableSizeUpdate(HPACK_TABLE_SIZE_CEILING + 1))).error?.code).toBe(
      Http2ErrorCode.HPACK_TABLE_SIZE_TOO_LARGE,
    );
  });

  it('reports a table size update after the first header field', () => {
    const d = new HpackDecoder();
    expect(d.decode(Uint8Array.from([...indexed(2), ...tableSizeUpdate(0)])).error?.code).toBe(
      Http2ErrorCode.HPACK_TABLE_SIZE_UPDATE_MISPLACED,
    );
  });

  it('empties the table when a single entry is larger than the table', () => {
    const d = new HpackDecoder();
    ok(d, Uint8Array.from(literalIndexed('a', 'b')));
    expect(d.dynamicTableLength).toBe(1);
    expect(ok(d, Uint8Array.from(literalIndexed('big', 'x'.repeat(5000))))).toEqual([['big', 'x'.repeat(5000)]]);
    expect(d.dynamicTableLength).toBe(0);
    expect(d.dynamicTableSize).toBe(0);
  });
});

describe('HpackDecoder trust', () => {
  it('started mid-connection, keeps only fields that do not depend on the unknown table', () => {
    const d = new HpackDecoder({ trusted: false });
    // Static :method GET, a literal with a new name, a dynamic entry, a literal with a dynamic name.
    const r = d.decode(Uint8Array.from([...indexed(2), ...literalIndexed('k', 'v'), ...indexed(62), 0x40 | 63, 0x00, 0x01, 0x78]));
    expect(r.headers).toEqual([[':method', 'GET'], ['k', 'v']]);
    expect(r.partial).toBe(true);
    expect(r.error).toBeUndefined();
    expect(d.trusted).toBe(false);
    // Nothing was inserted into a table it does not know.
    expect(d.dynamicTableSize).toBe(0);
  });

  it('trusts the table again after a size update to 0 empties it', () => {
    const d = new HpackDecoder({ trusted: false });
    const r = d.decode(Uint8Array.from([...tableSizeUpdate(0), ...tableSizeUpdate(4096), ...indexed(2), ...literalIndexed('k', 'v')]));
    expect(d.trusted).toBe(true);
    expect(r.headers).toEqual([[':method', 'GET'], ['k', 'v']]);
    expect(ok(d, Uint8Array.from(indexed(62)))).toEqual([['k', 'v']]);
  });

  it('stays untrusted after a size update that does not empty the table', () => {
    const d = new HpackDecoder({ trusted: false });
    expect(d.decode(Uint8Array.from([...tableSizeUpdate(100), ...indexed(2), ...indexed(62)]))).toMatchObject({ headers: [[':method', 'GET']], partial: true });
    expect(d.trusted).toBe(false);
  });

  it('stays untrusted after an error until a size update to 0', () => {
    const d = new HpackDecoder();
    d.decode(Uint8Array.from([0x80]));
    expect(d.trusted).toBe(false);
    expect(d.decode(Uint8Array.from([...indexed(2), ...indexed(63)]))).toMatchObject({ headers: [[':method', 'GET']], partial: true });
    const r = d.decode(Uint8Array.from([...tableSizeUpdate(0), ...indexed(2)]));
    expect(r.headers).toEqual([[':method', 'GET']]);
    expect(r.partial).toBeUndefined();
  });
});

describe('HpackDecoder on random input', () => {
  it('never throws and keeps the dynamic table within its size', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), (blocks) => {
        const d = new HpackDecoder({ maxHeaderListSize: 4096 });
        for (const block of blocks) {
          const r = d.decode(block);
          if (r.headers) expect(r.listSize).toBeLessThanOrEqual(4096);
          expect(d.dynamicTableSize).toBeLessThanOrEqual(4096);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on sequences of well-formed representations', () => {
    const representation = fc.oneof(
      fc.integer({ min: 1, max: 80 }).map((i) => indexed(i)),
      fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 40 }), fc.boolean()).map(([n, v, h]) => literalIndexed(n, v, h)),
      fc.tuple(fc.integer({ min: 0, max: 70 }), fc.string({ maxLength: 40 })).map(([i, v]) => [...hpackInt(i, 4, 0x10), ...(i === 0 ? hpackString('n') : []), ...hpackString(v)]),
      fc.integer({ min: 0, max: 5000 }).map((s) => tableSizeUpdate(s)),
    );
    fc.assert(
      fc.property(fc.array(fc.array(representation, { maxLength: 12 }), { maxLength: 8 }), (blocks) => {
        const d = new HpackDecoder();
        for (const reps of blocks) {
          d.decode(Uint8Array.from(reps.flat()));
          expect(d.dynamicTableSize).toBeLessThanOrEqual(4096);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
