// HTTP/2 + HPACK decode throughput, side by side with Node's built-in http2 module
// parsing the same bytes. The bytes are a real h2load session (h2load -n 20000 -c 1
// -m 20 against nginx h2c), recorded at the start of the run through a loopback proxy.
//   ours:  Http2Decoder on the client bytes (requests), and both directions decoded
//   node:  an http2 server session fed the client bytes through an in-memory Duplex,
//          each request stream closed as soon as it arrives (no response written)
// Prints requests/s per core for each and the ratio ours / node. Needs nginx and
// nghttp2-client (h2load); run after `npm run build:ts`.
//
// First, HTTP/1: the recorded curl → nginx keep-alive exchange (test/fixtures/http1),
// each message pushed whole as a capture delivers it (the whole-head scan), then with
// every head cut in two (the line-by-line path), then whole with the agent's 4 KiB
// body prefix kept for the content detectors. Prints messages/s per core for each.
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { Http1Decoder } from '../dist/decoders/http1/http1-decoder.js';
import { Http2ConnectionDecoder, Http2Decoder } from '../dist/decoders/http2/index.js';
import { freePort, Nginx } from '../test/helpers/nginx.mjs';

const run = promisify(execFile);
const REQUESTS = 20_000;
const ROUNDS = 5;
const ROUND_MS = 1000;

/** Chunks as each side wrote them, via a proxy between h2load and nginx. */
async function record() {
  const port = await freePort();
  const nginx = await Nginx.start({ locations: `listen 127.0.0.1:${port} http2;` });
  const client = [];
  const server = [];
  const proxy = net.createServer((down) => {
    const up = net.connect(port, '127.0.0.1');
    down.on('data', (d) => { client.push(d); up.write(d); });
    up.on('data', (d) => { server.push(d); down.write(d); });
    down.on('end', () => up.end());
    up.on('end', () => down.end());
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { stdout } = await run('h2load', ['-n', String(REQUESTS), '-c', '1', '-m', '20', `http://127.0.0.1:${proxy.address().port}/index.html`]);
  proxy.close();
  nginx.stop();
  const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded/.exec(stdout);
  if (!done || Number(done[2]) !== REQUESTS) throw new Error(`h2load did not complete ${REQUESTS} requests:\n${stdout}`);
  return { client, server };
}

/** Runs `once` (one pass over the session) for ROUND_MS, ROUNDS times; best requests/s. */
async function measure(once) {
  let best = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    let passes = 0;
    let elapsedMs = 0;
    while (elapsedMs < ROUND_MS) {
      await once();
      passes++;
      elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
    }
    best = Math.max(best, (passes * REQUESTS) / (elapsedMs / 1000));
  }
  return best;
}

function oursRequests(chunks) {
  let requests = 0;
  const decoder = new Http2Decoder({
    side: 'client', startsAtConnectionStart: true, maxBodyCapture: 0,
    onMessage: () => requests++, onError: () => {},
  });
  let t = 0;
  for (const c of chunks) decoder.push(c, t++);
  decoder.end(t);
  if (requests !== REQUESTS) throw new Error(`ours decoded ${requests} requests`);
}

function oursBoth(session) {
  let pairs = 0;
  const decoder = new Http2ConnectionDecoder({
    startsAtConnectionStart: true, maxBodyCapture: 0,
    onRequest: () => {}, onResponse: () => pairs++, onError: () => {},
  });
  // Interleaved the way a capture delivers them: one client chunk, one server chunk.
  const n = Math.max(session.client.length, session.server.length);
  for (let i = 0; i < n; i++) {
    if (i < session.client.length) decoder.client.push(session.client[i], i);
    if (i < session.server.length) decoder.server.push(session.server[i], i);
  }
  decoder.client.end(n);
  decoder.server.end(n);
  if (pairs !== REQUESTS) throw new Error(`ours decoded ${pairs} responses`);
}

const nodeServer = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
nodeServer.on('stream', (stream) => stream.close());

function nodeRequests(chunks) {
  return new Promise((resolve, reject) => {
    let requests = 0;
    const socket = new Duplex({
      read() {},
      write(_chunk, _encoding, callback) { callback(); },
    });
    nodeServer.once('session', (session) => {
      session.on('stream', () => {
        if (++requests === REQUESTS) {
          session.destroy();
          resolve();
        }
      });
      session.on('error', reject);
    });
    nodeServer.emit('connection', socket);
    for (const c of chunks) socket.push(c);
  });
}

/** The fixture's messages, one piece each, or each head cut in two. */
function http1Pieces(name, splitHeads) {
  const bytes = readFileSync(new URL(`../test/fixtures/http1/curl-nginx-keepalive.${name}.bin`, import.meta.url));
  const pieces = [];
  const decoder = new Http1Decoder({ side: name === 'req' ? 'request' : 'response', onMessage: (m) => {
    const headEnd = m.startOffset + m.headerBytes;
    if (splitHeads) pieces.push(bytes.subarray(m.startOffset, headEnd - 20), bytes.subarray(headEnd - 20, m.endOffset));
    else pieces.push(bytes.subarray(m.startOffset, m.endOffset));
  }, onError: () => {}, requestMethod: () => 'GET' });
  decoder.push(bytes, 0);
  return pieces;
}

/** Best messages/s over ROUNDS rounds of ROUND_MS, both directions of the exchange. */
function http1Rate(splitHeads, maxBodyCapture) {
  const requests = http1Pieces('req', splitHeads);
  const responses = http1Pieces('res', splitHeads);
  let messages = 0;
  const onMessage = () => messages++;
  const onError = (e) => { throw new Error(e.code); };
  const req = new Http1Decoder({ side: 'request', onMessage, onError, maxBodyCapture });
  const res = new Http1Decoder({ side: 'response', onMessage, onError, maxBodyCapture, requestMethod: () => 'GET' });
  let best = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    messages = 0;
    let elapsedMs = 0;
    while (elapsedMs < ROUND_MS) {
      for (let i = 0; i < 1000; i++) {
        for (const p of requests) req.push(p, i);
        for (const p of responses) res.push(p, i);
      }
      elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
    }
    best = Math.max(best, messages / (elapsedMs / 1000));
  }
  return best;
}

const h1fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(11);
console.log(`HTTP/1 (curl → nginx keep-alive, both directions)`);
console.log(`  heads whole in one push            ${h1fmt(http1Rate(false, 0))} messages/s`);
console.log(`  heads split across pushes          ${h1fmt(http1Rate(true, 0))} messages/s`);
console.log(`  heads whole, 4 KiB body prefix     ${h1fmt(http1Rate(false, 4096))} messages/s`);

const session = await record();
const clientBytes = session.client.reduce((n, c) => n + c.length, 0);
const serverBytes = session.server.reduce((n, c) => n + c.length, 0);
console.log(`recorded h2load session: ${REQUESTS} requests, ${session.client.length} client chunks (${clientBytes} B), ${session.server.length} server chunks (${serverBytes} B)`);

const node = await measure(() => nodeRequests(session.client));
const ours = await measure(() => oursRequests(session.client));
const both = await measure(() => oursBoth(session));
const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(11);
console.log(`node:http2 server parsing requests   ${fmt(node)} requests/s`);
console.log(`flowscope requests (client side)      ${fmt(ours)} requests/s   ratio ${(ours / node).toFixed(2)}`);
console.log(`flowscope both directions            ${fmt(both)} requests/s   ratio ${(both / node).toFixed(2)}`);
console.log(`target: ratio >= 0.5 — ${ours / node >= 0.5 ? 'met' : 'NOT met'}`);
