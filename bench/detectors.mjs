// Cost per flow of the content and per-source detectors, side by side with the
// cost of producing the flow itself (the Pipeline decoding the same HTTP/1.1
// bytes and assembling the Flow) measured in the same run.
//   traffic: the benign request corpus of test/fixtures/attacks (every request
//            line, with browser / SDK headers, JSON and form bodies), plus 2% of
//            requests carrying an attack payload, each answered by a JSON body
//   pipeline: Pipeline.handle on the request and response bytes, per flow
//   detectors: each detector's observe() on the resulting observations
// Prints ns per flow for the pipeline and for each detector, and the ratio
// detectors / pipeline. Run after `npm run build:ts`.
import { readFileSync } from 'node:fs';
import { templatePath } from '../dist/agent/baseline/path-template.js';
import { createContentDetectors } from '../dist/agent/detect/content/index.js';
import { createSourceDetectors } from '../dist/agent/detect/source/index.js';
import { Pipeline } from '../dist/agent/pipeline.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const FLOWS_PER_ROUND = Number(process.env.FLOWS ?? 20_000);
const fixtures = new URL('../test/fixtures/attacks/', import.meta.url);
const lines = (name) => readFileSync(new URL(name, fixtures), 'latin1').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));

const HEADERS = [
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\nAccept: text/html,*/*;q=0.8\r\nCookie: theme=dark; session_id=5f3e2a1b9c8d7e6f\r\n',
  'User-Agent: okhttp/4.12.0\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdmMiLCJleHAiOjQxMDI0NDQ4MDB9.c2lnbmF0dXJl\r\n',
  'User-Agent: curl/8.5.0\r\nAccept: */*\r\nX-Request-Id: 4bf92f35-77b3-4da6-a3ce-929d0e0e4736\r\n',
];
const RESPONSE_BODY = '{"ok":true,"items":[{"id":1,"name":"Widget","price":9.99},{"id":2,"name":"Gadget","price":19.99}]}';
const RESPONSE = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${RESPONSE_BODY.length}\r\n\r\n${RESPONSE_BODY}`;

function requests() {
  const out = [];
  const benign = lines('benign-requests.txt').map((l) => l.split(' '));
  const bodies = JSON.parse(readFileSync(new URL('benign-bodies.json', fixtures), 'utf8'));
  const attacks = [...lines('sqli.txt'), ...lines('log4shell.txt'), ...lines('traversal.txt')].map((p) => p.replace(/[\s#&+"<>\\^`{|}]/g, encodeURIComponent));
  benign.forEach(([method, target], i) => {
    const body = method === 'POST' ? bodies[i % bodies.length] : undefined;
    const head = `${method} ${target} HTTP/1.1\r\nHost: api.internal\r\n${HEADERS[i % HEADERS.length]}`;
    out.push(body ? `${head}Content-Type: ${body[0]}\r\nContent-Length: ${Buffer.byteLength(body[1], 'latin1')}\r\n\r\n${body[1]}` : `${head}\r\n`);
  });
  const withAttacks = [];
  for (let i = 0; i < 50; i++) {
    for (const r of out) withAttacks.push(r);
    withAttacks.push(`GET /api/v1/items?id=${attacks[i % attacks.length]} HTTP/1.1\r\nHost: api.internal\r\n\r\n`);
    withAttacks.push(`GET /api/v1/items?id=${attacks[(i * 7) % attacks.length]} HTTP/1.1\r\nHost: api.internal\r\n\r\n`);
  }
  return withAttacks.map((r) => Buffer.from(r, 'latin1'));
}

/** Runs `count` exchanges through a pipeline; returns the observations and the elapsed ns. */
function produce(requestBytes, count, startMs, learning) {
  const pipeline = new Pipeline({ maxBodyCapture: 4096 });
  const observations = [];
  pipeline.onFlow((flow, exchange) => {
    const { template, params } = templatePath(exchange.request.target);
    observations.push({ flow, exchange, endpoint: `${exchange.request.method} ${template}`, pathParams: params, nowMs: startMs + observations.length * 5, learning });
  });
  const response = Buffer.from(RESPONSE, 'latin1');
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const fd = 10 + i;
    const base = { tgid: 777, tid: 777, fd, connGen: 1 };
    const request = requestBytes[i % requestBytes.length];
    pipeline.handle({ kind: 'open', ...base, tsNs: 1000, role: 'client', preexisting: false, family: 4, localIp: '127.0.0.1', localPort: 20000 + (i % 40000), remoteIp: '127.0.0.1', remotePort: 8080, comm: 'bench', uid: 0, cgroupId: 1 }, 0);
    pipeline.handle({ kind: 'data', ...base, tsNs: 2000, direction: 'egress', source: 'syscall', protocol: 'http1', pos: 0, len: request.length, payload: request }, 0);
    pipeline.handle({ kind: 'data', ...base, tsNs: 3000, direction: 'ingress', source: 'syscall', protocol: 'http1', pos: 0, len: response.length, payload: response }, 0);
    pipeline.handle({ kind: 'close', ...base, tsNs: 4000, role: 'client', protocol: 'http1', tls: false, bytesSent: request.length, bytesRecv: response.length, startNs: 1000 }, 0);
  }
  return { observations, ns: Number(process.hrtime.bigint() - t0) };
}

const requestBytes = requests();
const detectors = [...createContentDetectors(), ...createSourceDetectors()];
const perDetector = new Map(detectors.map((d) => [d.name, []]));
const pipelineNs = [];
const findings = new Map();
// Round 0 is the learning window (and JIT warm-up): not timed.
for (let round = 0; round <= ROUNDS; round++) {
  const learning = round === 0;
  const { observations, ns } = produce(requestBytes, FLOWS_PER_ROUND, Date.now(), learning);
  if (!learning) pipelineNs.push(ns / observations.length);
  for (const detector of detectors) {
    const t0 = process.hrtime.bigint();
    for (const obs of observations) {
      for (const f of detector.observe(obs) ?? []) if (!learning) findings.set(f.kind, (findings.get(f.kind) ?? 0) + 1);
    }
    if (!learning) perDetector.get(detector.name).push(Number(process.hrtime.bigint() - t0) / observations.length);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pipe = median(pipelineNs);
let total = 0;
console.log(`flows per round: ${FLOWS_PER_ROUND}, timed rounds: ${ROUNDS}, findings: ${JSON.stringify(Object.fromEntries(findings))}`);
console.log(`pipeline (decode + flow assembly): ${pipe.toFixed(0)} ns/flow`);
for (const [name, samples] of perDetector) {
  const ns = median(samples);
  total += ns;
  console.log(`  ${name.padEnd(20)} ${ns.toFixed(0).padStart(7)} ns/flow  (${(ns / pipe).toFixed(2)}x pipeline)`);
}
console.log(`all detectors: ${total.toFixed(0)} ns/flow = ${(total / pipe).toFixed(2)}x the pipeline's own cost per flow`);
