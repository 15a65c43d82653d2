import { gunzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { headerValue, type HttpMessage } from '../../../decoders/message.js';
import { decode, decodeConnection, loadFixtures, withoutTimes, type Decoded, type Fixture } from './harness.js';

const fixtures = loadFixtures();
const byName = (name: string) => fixtures.find((f) => f.name === name) as Fixture;

/** One line per message: what a reader of the fixture would check by eye. */
function summary(m: HttpMessage): string {
  const head = m.type === 'request' ? `${m.method} ${m.target} ${m.version}` : `${m.version} ${m.status} ${m.reason}`;
  return `${head} | header=${m.headerBytes} body=${m.bodyBytes} @${m.startOffset}-${m.endOffset}`;
}

const expected: Record<string, { req: string[]; res: string[]; reqStopped?: boolean; resStopped?: boolean }> = {
  'curl-nginx-keepalive': {
    req: ['GET /index.html HTTP/1.1 | header=89 body=0 @0-89', 'GET /small.txt HTTP/1.1 | header=88 body=0 @89-177'],
    res: ['HTTP/1.1 200 OK | header=236 body=63 @0-299', 'HTTP/1.1 200 OK | header=235 body=6 @299-540'],
  },
  'curl-nginx-gzip-chunked': {
    req: ['GET /big.txt HTTP/1.1 | header=109 body=0 @0-109', 'GET /small.txt HTTP/1.1 | header=111 body=0 @109-220'],
    res: ['HTTP/1.1 200 OK | header=251 body=11726 @0-11990', 'HTTP/1.1 200 OK | header=248 body=26 @11990-12275'],
  },
  'curl-nginx-head': {
    req: ['HEAD /index.html HTTP/1.1 | header=90 body=0 @0-90', 'HEAD /missing HTTP/1.1 | header=87 body=0 @90-177'],
    res: ['HTTP/1.1 200 OK | header=236 body=0 @0-236', 'HTTP/1.1 404 Not Found | header=155 body=0 @236-391'],
  },
  'curl-nginx-h2c-upgrade-refused': {
    req: ['GET /small.txt HTTP/1.1 | header=181 body=0 @0-181'],
    res: ['HTTP/1.1 200 OK | header=235 body=6 @0-241'],
  },
  'pyclient-nginx-304': {
    req: [
      'GET /index.html HTTP/1.1 | header=78 body=0 @0-78',
      'GET /index.html HTTP/1.1 | header=128 body=0 @78-206',
      'HEAD /small.txt HTTP/1.1 | header=78 body=0 @206-284',
    ],
    res: [
      'HTTP/1.1 200 OK | header=236 body=63 @0-299',
      'HTTP/1.1 304 Not Modified | header=179 body=0 @299-478',
      'HTTP/1.1 200 OK | header=235 body=0 @478-713',
    ],
  },
  'raw-pipelined-nginx': {
    req: [
      'GET /small.txt HTTP/1.1 | header=36 body=0 @0-36',
      'GET /nope HTTP/1.1 | header=31 body=0 @36-67',
      'HEAD /index.html HTTP/1.1 | header=38 body=0 @67-105',
      'GET /index.html HTTP/1.1 | header=56 body=0 @105-161',
    ],
    res: [
      'HTTP/1.1 200 OK | header=235 body=6 @0-241',
      'HTTP/1.1 404 Not Found | header=155 body=153 @241-549',
      'HTTP/1.1 200 OK | header=236 body=0 @549-785',
      'HTTP/1.1 200 OK | header=231 body=63 @785-1079',
    ],
  },
  'curl-python-expect-100': {
    req: ['POST /upload HTTP/1.1 | header=170 body=3000 @0-3170'],
    res: ['HTTP/1.1 100 Continue | header=25 body=0 @0-25', 'HTTP/1.1 200 OK | header=138 body=20 @25-183'],
  },
  'curl-python-chunked-post': {
    req: ['POST /upload HTTP/1.1 | header=163 body=620 @0-795'],
    res: ['HTTP/1.1 200 OK | header=138 body=19 @0-157'],
  },
  'pyclient-python-chunked-close': {
    req: ['GET /chunked HTTP/1.1 | header=75 body=0 @0-75', 'GET /close HTTP/1.1 | header=73 body=0 @75-148'],
    res: ['HTTP/1.1 200 OK | header=167 body=343 @0-557', 'HTTP/1.0 200 OK | header=118 body=105 @557-780'],
  },
  'raw-upgrade-python': {
    req: ['GET /upgrade HTTP/1.1 | header=80 body=0 @0-80'],
    res: ['HTTP/1.1 101 Switching Protocols | header=155 body=0 @0-155'],
    reqStopped: true,
    resStopped: true,
  },
};

function expectSame(a: Decoded, b: Decoded) {
  expect(withoutTimes(a.messages)).toEqual(withoutTimes(b.messages));
  expect(a.errors).toEqual(b.errors);
  expect(a.stopped).toBe(b.stopped);
}

/** Deterministic pseudo-random cut sets (xorshift), so a failure names a reproducible seed. */
function randomCuts(length: number, seed: number): number[] {
  let x = seed | 1;
  const rnd = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const count = 1 + Math.floor(rnd() * 12);
  return Array.from({ length: count }, () => Math.floor(rnd() * length)).sort((a, b) => a - b);
}

test('every recorded fixture has an expectation and stays under 64 KiB', () => {
  expect(fixtures.map((f) => f.name).sort()).toEqual(Object.keys(expected).sort());
  for (const fx of fixtures) expect(fx.req.length + fx.res.length).toBeLessThan(64 * 1024);
});

describe.each(fixtures.map((f) => [f.name, f] as const))('fixture %s', (name, fx) => {
  const want = expected[name]!;

  test('decodes whole into the recorded messages with no errors', () => {
    const { req, res } = decodeConnection(fx);
    expect(req.errors).toEqual([]);
    expect(res.errors).toEqual([]);
    expect(req.messages.map(summary)).toEqual(want.req);
    expect(res.messages.map(summary)).toEqual(want.res);
    expect(req.stopped).toBe(want.reqStopped ?? false);
    expect(res.stopped).toBe(want.resStopped ?? false);
  });

  test('decodes identically when split at every byte position', () => {
    const whole = decodeConnection(fx);
    for (let i = 1; i < Math.max(fx.req.length, fx.res.length); i++) {
      const split = decodeConnection(fx, i < fx.req.length ? [i] : [], i < fx.res.length ? [i] : []);
      expectSame(split.req, whole.req);
      expectSame(split.res, whole.res);
      // A piece's time is its first position: startNs/endNs must name the piece holding the byte.
      for (const m of [...split.req.messages, ...split.res.messages]) {
        expect(m.startNs).toBe(m.startOffset < i ? 0 : i);
        expect(m.endNs).toBe(m.endOffset - 1 < i ? 0 : i);
      }
    }
  });

  test('decodes identically when split into many random pieces, and byte by byte', () => {
    const whole = decodeConnection(fx);
    for (let seed = 1; seed <= 300; seed++) {
      const split = decodeConnection(fx, randomCuts(fx.req.length, seed), randomCuts(fx.res.length, seed * 7919));
      expectSame(split.req, whole.req);
      expectSame(split.res, whole.res);
    }
    const everyByte = (n: number) => Array.from({ length: n }, (_, i) => i);
    const bytewise = decodeConnection(fx, everyByte(fx.req.length), everyByte(fx.res.length));
    expectSame(bytewise.req, whole.req);
    expectSame(bytewise.res, whole.res);
  });
});

test('a chunked gzip response from nginx yields the decoded gzip payload as its body', () => {
  const fx = byName('curl-nginx-gzip-chunked');
  const { messages, errors } = decode('response', fx.res, { maxBodyCapture: 1 << 20, requestMethod: () => 'GET' });
  expect(errors).toEqual([]);
  const first = messages[0]!;
  expect(headerValue(first.headers, 'transfer-encoding')).toBe('chunked');
  expect(first.body?.length).toBe(first.bodyBytes);
  expect(first.bodyTruncated).toBe(false);
  const text = gunzipSync(first.body!).toString('latin1');
  expect(text.startsWith('line 0 ')).toBe(true);
  expect(text.split('\n').length).toBe(1501);
});

test('chunk extensions and trailers from a python server are stripped from the body', () => {
  const fx = byName('pyclient-python-chunked-close');
  const { messages } = decode('response', fx.res, { maxBodyCapture: 4096, requestMethod: () => 'GET' });
  const body = Buffer.from(messages[0]!.body!).toString('latin1');
  expect(body).toBe(`first part\nsecond, longer part of the body\n${'x'.repeat(300)}`);
  expect(Buffer.from(messages[1]!.body!).toString('latin1')).toBe('body delimited by connection close\n'.repeat(3));
});

test('a read-until-close response is only emitted when the connection ends', () => {
  const fx = byName('pyclient-python-chunked-close');
  const open = decode('response', fx.res, { close: false, requestMethod: () => 'GET' });
  expect(open.messages).toHaveLength(1);
  expect(open.errors).toEqual([]);
});

test('the body prefix is capped at maxBodyCapture and marked truncated', () => {
  const fx = byName('curl-python-expect-100');
  const { messages } = decode('request', fx.req, { maxBodyCapture: 10 });
  expect(Buffer.from(messages[0]!.body!).toString()).toBe('pppppppppp');
  expect(messages[0]!.bodyTruncated).toBe(true);
  expect(messages[0]!.bodyBytes).toBe(3000);
});

test('header names keep their wire case and values are trimmed', () => {
  const fx = byName('curl-nginx-keepalive');
  const { messages } = decode('request', fx.req);
  expect(messages[0]!.headers.map(([n]) => n)).toEqual(['Host', 'User-Agent', 'Accept']);
  expect(messages[0]!.headers[1]).toEqual(['User-Agent', 'curl/7.88.1']);
});

test('requests after the h2c upgrade nginx refused are held, then decoded on resume', () => {
  const fx = byName('curl-nginx-h2c-upgrade-refused');
  const after = byName('curl-nginx-keepalive').req;
  const stream = new Uint8Array([...fx.req, ...after]);
  const held = decode('request', stream, { close: false });
  expect(held.messages).toHaveLength(1);
  expect(headerValue(held.messages[0]!.headers, 'upgrade')).toBe('h2c');
  expect(held.maxBuffered).toBe(after.length);
  const resumed = decode('request', stream, { switched: () => false });
  expect(resumed.errors).toEqual([]);
  expect(resumed.messages.map((m) => m.startOffset)).toEqual([0, fx.req.length, fx.req.length + 89]);
});

test('bytes after a 101 are not decoded on either side', () => {
  const fx = byName('raw-upgrade-python');
  // Without the stop() the request side would hold the tunnel bytes, bounded.
  const held = decode('request', fx.req, { close: false });
  expect(held.errors).toEqual([]);
  expect(held.maxBuffered).toBe(fx.req.length - 80);
});
