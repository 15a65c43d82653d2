#!/usr/bin/env node
// npm run bench:sinks [-- --outage 30 --rate 2000] — the sink durability target:
// a webhook receiver and a syslog (octet-counting TCP) receiver both go away
// for --outage seconds while flows keep coming at --rate per second. Prints
// what was queued on disk, how long the backlog took to drain once the
// receivers returned, and checks that every record arrived once and in order.
// Needs the compiled tree (npm run build:ts).
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';

const { values } = parseArgs({ options: { outage: { type: 'string', default: '30' }, rate: { type: 'string', default: '2000' } } });
const outageMs = Number(values.outage) * 1000;
const rate = Number(values.rate);

let sinksModule;
let configModule;
try {
  sinksModule = await import('../dist/agent/sinks/sink-manager.js');
  configModule = await import('../dist/agent/sinks/config.js');
} catch {
  console.error('bench:sinks: compiled sinks not found (fix: run `npm run build:ts`)');
  process.exit(1);
}

const webhookIds = [];
const syslogIds = [];

function idOf(json) {
  return JSON.parse(json).flow.connId;
}

function startWebhook(port = 0) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      for (const record of JSON.parse(body.toString('utf8'))) webhookIds.push(record.flow.connId);
      res.writeHead(200).end('{}');
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

/** A minimal RFC 6587 octet-counting receiver. */
function startSyslog(port = 0) {
  const server = net.createServer((socket) => {
    server.sockets.add(socket);
    socket.on('close', () => server.sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const space = buffered.indexOf(0x20);
        if (space < 0) break;
        const len = Number(buffered.subarray(0, space).toString('latin1'));
        if (buffered.length < space + 1 + len) break;
        const message = buffered.subarray(space + 1, space + 1 + len).toString('utf8');
        syslogIds.push(idOf(message.slice(message.indexOf(' - ') + 3)));
        buffered = buffered.subarray(space + 1 + len);
      }
    });
    socket.on('error', () => undefined);
  });
  server.sockets = new Set();
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

function stop(server) {
  server.closeAllConnections?.();
  for (const socket of server.sockets ?? []) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

const flow = (n) => ({
  time: new Date().toISOString(), durationNs: '1200000', protocol: 'HTTP1', tls: false, observedAt: 'CLIENT',
  source: { ip: '127.0.0.1', port: 40000 + (n % 20000), process: 'client' },
  destination: { ip: '127.0.0.1', port: 8080, process: 'server', workload: 'web', namespace: 'shop' },
  http: { method: 'GET', path: `/items/${n}`, host: 'web.shop', status: 200, requestBytes: '80', responseBytes: '512' },
  connId: `seq-${n}`,
});

// Cost of write() on the capture thread (filter, encode, append to the spool),
// per payload format, side by side with JSON.stringify of the same flow.
{
  const n = 20_000;
  const sample = Array.from({ length: n }, (_, i) => flow(i));
  let t = process.hrtime.bigint();
  for (const f of sample) JSON.stringify(f);
  const stringifyNs = Number(process.hrtime.bigint() - t) / n;
  for (const format of ['cef', 'json', 'ocsf', 'ecs']) {
    const dir = mkdtempSync(join(tmpdir(), 'flowscope-bench-sinks-cost-'));
    const { sinks: costSinks } = configModule.validateSinkConfigs([{ type: 'syslog', name: 'cost', host: '127.0.0.1', port: 9, format }]);
    const m = await sinksModule.SinkManager.create(costSinks, { spoolDir: dir, logger: pino({ level: 'silent' }) });
    t = process.hrtime.bigint();
    for (const f of sample) m.write('flow', f);
    const ns = Number(process.hrtime.bigint() - t) / n;
    await m.close();
    rmSync(dir, { recursive: true, force: true });
    console.log(`write() ${format.padEnd(4)} ${(ns / 1000).toFixed(2)} µs/flow (${Math.round(1e9 / ns)} flows/s), ${(ns / stringifyNs).toFixed(1)}x JSON.stringify`);
  }
}

let webhook = await startWebhook();
let syslog = await startSyslog();
const webhookPort = webhook.address().port;
const syslogPort = syslog.address().port;
const spoolDir = mkdtempSync(join(tmpdir(), 'flowscope-bench-sinks-'));
const { sinks, errors } = configModule.validateSinkConfigs([
  { type: 'webhook', name: 'webhook', url: `http://127.0.0.1:${webhookPort}`, retry: { initialBackoffMs: 200, maxBackoffMs: 2000 } },
  { type: 'syslog', name: 'syslog', host: '127.0.0.1', port: syslogPort, format: 'json', retry: { initialBackoffMs: 200, maxBackoffMs: 2000 } },
]);
if (errors.length > 0) throw new Error(errors.join('\n'));
const logger = pino({ level: 'warn' }, pino.destination(2));
const manager = await sinksModule.SinkManager.create(sinks, { spoolDir, logger });

let written = 0;
let peakSpool = 0;
let peakRss = 0;
const producer = setInterval(() => {
  for (let i = 0; i < rate / 50; i++) manager.write('flow', flow(written++));
  const c = manager.counters();
  peakSpool = Math.max(peakSpool, c.webhook.spoolBytes + c.syslog.spoolBytes);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
await sleep(2000);
console.log(`receivers down for ${outageMs / 1000} s at ${rate} flows/s`);
await Promise.all([stop(webhook), stop(syslog)]);
await sleep(outageMs);
const queuedAtReturn = manager.counters();
webhook = await startWebhook(webhookPort);
syslog = await startSyslog(syslogPort);
const back = Date.now();
await sleep(2000);
clearInterval(producer);
await manager.flush();
const deadline = Date.now() + 10 * 60_000;
while (Date.now() < deadline) {
  const c = manager.counters();
  if (c.webhook.queued === 0 && c.syslog.queued === 0) break;
  await sleep(100);
}
const drainMs = Date.now() - back;
const final = manager.counters();
await manager.close();
await Promise.all([stop(webhook), stop(syslog)]);
rmSync(spoolDir, { recursive: true, force: true });

function check(name, ids) {
  const c = final[name];
  let inOrder = true;
  for (let i = 0; i < ids.length; i++) if (ids[i] !== `seq-${i}`) { inOrder = false; break; }
  const lost = written - ids.length - c.dropped;
  console.log(`${name.padEnd(8)} written ${written}  delivered ${c.delivered}  received ${ids.length}  dropped ${c.dropped}  lost ${lost}  retries ${c.retries}  in order ${inOrder}  queued at return ${queuedAtReturn[name].queued}`);
  return lost === 0 && inOrder && c.dropped === 0;
}
console.log(`backlog drained ${(drainMs / 1000).toFixed(1)} s after the receivers returned; peak spool ${(peakSpool / 1048576).toFixed(1)} MiB; peak RSS ${(peakRss / 1048576).toFixed(0)} MiB`);
const ok = [check('webhook', webhookIds), check('syslog', syslogIds)].every(Boolean);
console.log(ok ? 'PASS: every record delivered once, in order' : 'FAIL: records lost or out of order');
process.exit(ok ? 0 : 1);
