import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { FlowJsonEncoder, flowJsonBytes, NO_ROOM, UNKNOWN_SHAPE } from '../../../agent/output/flow-json.js';
import { JsonLinesWriter } from '../../../agent/output/jsonl-writer.js';
import { Pipeline } from '../../../agent/pipeline.js';
import type { Flow } from '../../../agent/schema/flow.js';
import { dataEvent as data, openEvent as open } from '../../helpers/socket-events.js';

// Strings JSON.stringify escapes or encodes in more than one byte, alone and mixed.
const oddPieces = ['"', '\\', '/', '\u0000', '\u0008', '\t', '\n', '\u000b', '\f', '\r', '\u001f', '\u007f', '\u0080', 'é', '\u2028', '\u2029', '\ud800', '\udbff', '\udc00', '\udfff', '\ud83d\ude00', '\ufeff', '\uffff', 'a', ' '];
const text = fc.oneof(
  { weight: 4, arbitrary: fc.string() },
  fc.string16bits(),
  fc.fullUnicodeString(),
  fc.stringOf(fc.constantFrom(...oddPieces)),
  fc.constantFrom('', '127.0.0.1', '/index.html', 'nginx', '2026-11-23T16:29:05.393260032Z', '\ud800x', 'x\udc00', 'é'.repeat(40)),
);
const number = fc.oneof(
  fc.integer(),
  fc.nat(),
  fc.double(),
  fc.constantFrom(0, -0, -1, 9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, -(2 ** 53), 1e21, 1e-7, 0.1, -0.5, NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE),
);
/** Absent, present but undefined, or set: JSON.stringify leaves out the first two alike. */
const maybe = <T>(value: fc.Arbitrary<T>) => fc.option(value, { nil: undefined, freq: 3 });
const strings = fc.array(text, { maxLength: 4 });

// Objects are built with their keys in the order flowscope sets them (flow-builder.ts,
// identity-resolver.ts, http2-session.ts): the order the fast path expects.
const endpoint = fc.record(
  {
    ip: text, port: number, pid: maybe(number), process: maybe(text), exe: maybe(text), user: maybe(text), containerId: maybe(text),
    pod: maybe(text), namespace: maybe(text), workload: maybe(text), workloadKind: maybe(text), serviceAccount: maybe(text),
  },
  { requiredKeys: ['ip', 'port'] },
);
const http = fc.record(
  {
    method: text, path: text, host: maybe(text), status: maybe(number), requestBytes: text, responseBytes: text,
    headersTrusted: maybe(fc.boolean()), streamId: maybe(number),
  },
  { requiredKeys: ['method', 'path', 'requestBytes', 'responseBytes'] },
);
const grpc = fc.record(
  {
    service: text, method: text, requestMessages: number, responseMessages: number, status: maybe(number), message: maybe(text),
    inProgress: maybe(fc.boolean()), requestPayloads: maybe(strings), responsePayloads: maybe(strings),
  },
  { requiredKeys: ['service', 'method', 'requestMessages', 'responseMessages'] },
);
/** Flows with every field the type declares, set in the order buildFlow sets them. */
const flow = fc.record(
  {
    time: text, durationNs: text, protocol: text, tls: fc.boolean(), observedAt: text, source: endpoint, destination: endpoint,
    http, connId: text, issues: maybe(strings), grpc: maybe(grpc),
  },
  { requiredKeys: ['time', 'durationNs', 'protocol', 'tls', 'observedAt', 'source', 'destination', 'http', 'connId'] },
) as unknown as fc.Arbitrary<Flow>;

/** Objects a flow holds, so a test can change one of them. */
function partsOf(f: Flow): Record<string, unknown>[] {
  const parts: unknown[] = [f, f.source, f.destination, f.http, f.grpc];
  return parts.filter((p): p is Record<string, unknown> => typeof p === 'object' && p !== null);
}

/** A flow no longer of the declared shape, in one of the ways enrichment or a newer schema could make one. */
const offShapeFlow = fc.tuple(flow, fc.nat(), fc.nat(), fc.constantFrom('extra key', 'reordered', 'odd value')).map(([f, which, seed, how]) => {
  const parts = partsOf(f);
  const part = parts[which % parts.length]!;
  const keys = Object.keys(part);
  if (how === 'extra key') {
    part[['future', 'toJSON', '7', 'sourceWorkload'][seed % 4]!] = seed % 3 === 0 ? undefined : 'x';
  } else if (how === 'reordered') {
    // Re-set the first key last: the object's key order is no longer the declared one.
    const first = keys[0]!;
    const value = part[first];
    delete part[first];
    part[first] = value;
  } else {
    const key = keys[seed % keys.length]!;
    part[key] = [{ nested: 1 }, [1, undefined], new Date(0), Object.create(null), () => 1, Symbol('s'), null, ['a', 7]][seed % 8];
  }
  return f;
});

describe('FlowJsonEncoder', () => {
  const encoder = new FlowJsonEncoder();
  const buf = Buffer.alloc(1 << 20);

  it('writes the bytes of JSON.stringify for every flow of the declared shape', () => {
    fc.assert(
      fc.property(flow, fc.nat(64), (f, start) => {
        const end = encoder.encode(f, buf, start);
        // The fast path itself must take these: a fallback would make this test prove nothing.
        expect(end).toBeGreaterThanOrEqual(start);
        expect(buf.subarray(start, end).equals(Buffer.from(JSON.stringify(f), 'utf8'))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('writes the same bytes for frozen endpoints, shared by many flows (as the pipeline shares a connection\'s ends)', () => {
    fc.assert(
      fc.property(fc.array(flow, { minLength: 2, maxLength: 4 }), fc.boolean(), (flows, offShape) => {
        const [first] = flows;
        if (offShape) (first!.source as unknown as Record<string, unknown>).zone = 'x'; // a key outside the declared shape
        Object.freeze(first!.source);
        Object.freeze(first!.destination);
        for (const f of flows) {
          f.source = first!.source;
          f.destination = f === first ? first!.destination : first!.source;
          const end = encoder.encode(f, buf, 0);
          if (offShape) expect(end).toBe(UNKNOWN_SHAPE);
          else expect(buf.subarray(0, end).equals(Buffer.from(JSON.stringify(f), 'utf8'))).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('encodes an endpoint that is not frozen anew each time, so a changed field shows', () => {
    fc.assert(
      fc.property(flow, fc.integer({ min: 1, max: 65535 }), (f, port) => {
        encoder.encode(f, buf, 0);
        f.source = { ...f.source, port };
        const end = encoder.encode(f, buf, 0);
        expect(buf.subarray(0, end).toString('utf8')).toBe(JSON.stringify(f));
        (f.source as { port: number }).port = port === 1 ? 2 : 1;
        const again = encoder.encode(f, buf, 0);
        expect(buf.subarray(0, again).toString('utf8')).toBe(JSON.stringify(f));
      }),
      { numRuns: 300 },
    );
  });

  it('answers UNKNOWN_SHAPE, or the same bytes, for flows with unknown keys, other key orders or odd values', () => {
    let unknown = 0;
    fc.assert(
      fc.property(offShapeFlow, (f) => {
        const end = encoder.encode(f, buf, 0);
        if (end === UNKNOWN_SHAPE) unknown++;
        else expect(buf.subarray(0, end).toString('utf8')).toBe(JSON.stringify(f));
      }),
      { numRuns: 1000 },
    );
    expect(unknown).toBeGreaterThan(0);
  });

  it('answers NO_ROOM when the flow does not fit, never writing past the end less the reserve', () => {
    fc.assert(
      fc.property(flow, fc.nat(8), fc.nat(3), (f, start, reserve) => {
        const json = JSON.stringify(f);
        const expected = Buffer.from(json, 'utf8');
        const needed = start + expected.length + reserve;
        // Room is judged before encoding (3 bytes per UTF-16 unit at worst, keys in 4-byte
        // words), so between `needed` and this the answer may be either; from here on it fits.
        const ample = start + json.length * 3 + 4 + reserve;
        for (const size of [0, start, Math.floor(needed / 2), needed - 1, needed, needed + 3, ample]) {
          const small = Buffer.alloc(size + 8, 0xee).subarray(0, size);
          const end = encoder.encode(f, small, start, reserve);
          if (size < needed || (end === NO_ROOM && size < ample)) {
            expect(end).toBe(NO_ROOM);
          } else {
            expect(end).toBe(start + expected.length);
            expect(small.subarray(start, end).equals(expected)).toBe(true);
          }
          // Bytes past the usable end (and beyond the view) are untouched.
          const parent = Buffer.from(small.buffer, small.byteOffset, size + 8);
          for (let i = Math.max(0, size - reserve); i < size + 8; i++) expect(parent[i]).toBe(0xee);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('takes the fast path for the flows the pipeline builds, identity-enriched or incomplete', () => {
    const pipeline = new Pipeline();
    // Fields set in the order the identity resolver sets them.
    pipeline.addEnricher((end, isLocal) => {
      if (isLocal) {
        Object.assign(end, { exe: '/usr/bin/curl', user: 'root', containerId: 'c0ffee' });
        Object.assign(end, { pod: 'web-0', namespace: 'shop', workload: 'web', workloadKind: 'StatefulSet', serviceAccount: 'web' });
      } else {
        Object.assign(end, { workload: 'db', workloadKind: 'External' });
      }
    });
    const flows: Flow[] = [];
    pipeline.onFlow((f) => flows.push(f));
    const server = { tgid: 200, fd: 7 };
    const request = 'GET /a?q="é" HTTP/1.1\r\nHost: svc\r\n\r\n';
    const response = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    for (const event of [
      open(), open({ ...server, role: 'server', localPort: 8080, remotePort: 40000, comm: 'nginx' }),
      data('egress', 0, request), data('ingress', 0, request, server), data('egress', 0, response, server), data('ingress', 0, response),
      // A request still unanswered when the pipeline drains: a flow with issues.
      open({ fd: 9, connGen: 2, localPort: 40001 }), data('egress', 0, request, { fd: 9, connGen: 2 }),
    ]) pipeline.handle(event, 0);
    pipeline.drainAll();
    expect(flows.some((f) => f.issues !== undefined)).toBe(true);
    expect(flows.length).toBeGreaterThanOrEqual(3);
    for (const f of flows) {
      const end = encoder.encode(f, buf, 0);
      expect(end).toBeGreaterThan(0);
      expect(buf.toString('utf8', 0, end)).toBe(JSON.stringify(f));
    }
  });

  it('answers UNKNOWN_SHAPE for values that are not plain flow objects', () => {
    for (const odd of [null, 7, 'flow', [], new Date(0), Object.create(null), new (class Flowish { time = 'x'; })()]) {
      expect(encoder.encode(odd as unknown as Flow, buf, 0)).toBe(UNKNOWN_SHAPE);
    }
    expect(encoder.encode({} as Flow, buf, 0)).toBe(2);
    expect(buf.toString('utf8', 0, 2)).toBe('{}');
  });
});

describe('JsonLinesWriter.writeJson(flowJsonBytes(flow))', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('writes the same file as JSON.stringify(flow) plus a newline, whatever the flow, across batches and flushes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowscope-flow-json-'));
    dirs.push(dir);
    const file = join(dir, 'flows.jsonl');
    const records = fc.sample(fc.oneof({ weight: 4, arbitrary: flow }, offShapeFlow), { numRuns: 4000, seed: 42 });
    // Flows larger than a batch (256 KiB), non-ASCII ones among them.
    const big = fc.sample(flow, { numRuns: 2, seed: 7 });
    big[0]!.http.path = `/${'x'.repeat(300_000)}`;
    big[1]!.http.path = `/${'é\u2028\ud800'.repeat(100_000)}`;
    records.splice(1000, 0, big[0]!);
    records.splice(3000, 0, big[1]!);
    const writer = new JsonLinesWriter(file, (err) => expect.fail(err.message));
    const expected: string[] = [];
    records.forEach((f, i) => {
      writer.writeJson(flowJsonBytes(f));
      expected.push(`${JSON.stringify(f)}\n`);
      // Other records (anomalies) share the writer and keep JSON.stringify.
      if (i % 50 === 0) {
        const anomaly = { id: String(i), kind: 'NEW_EDGE', summary: 'é"\u2028' };
        writer.write(anomaly);
        expected.push(`${JSON.stringify(anomaly)}\n`);
      }
      if (i % 97 === 0) writer.flush();
    });
    await writer.close();
    expect(readFileSync(file).equals(Buffer.from(expected.join(''), 'utf8'))).toBe(true);
    expect(writer.written).toBe(expected.length);
    expect(writer.dropped).toBe(0);
  });

  it('counts flows as dropped past the queue cap, as write does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowscope-flow-json-'));
    dirs.push(dir);
    const file = join(dir, 'flows.jsonl');
    const writer = new JsonLinesWriter(file, (err) => expect.fail(err.message), 2000);
    const flows = fc.sample(flow, { numRuns: 100, seed: 3 });
    for (const f of flows) writer.writeJson(flowJsonBytes(f));
    await writer.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(writer.dropped).toBeGreaterThan(0);
    expect(writer.written + writer.dropped).toBe(100);
    expect(lines).toEqual(flows.slice(0, writer.written).map((f) => JSON.stringify(f)));
  });
});
