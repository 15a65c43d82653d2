#!/usr/bin/env node
// npm run bench:stream — one agent-side stream server publishing flows at a
// target rate (default 60,000/s, in 10 ms batches like capture ticks) to one
// WebSocket consumer in another process, which parses every frame. Prints the
// delivered rate, drops, end-to-end delay (publish → parsed by the consumer)
// and the server's CPU per 1,000 flows, side by side with a reference: the
// same frames sent by a bare ws server with no history, filter or queue.
// Target: ≥ 50,000 flows/s with p99 delay ≤ 1 s.
//   node bench/stream.mjs [--rate 60000] [--seconds 10]
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket, { WebSocketServer } from 'ws';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '60000' }, seconds: { type: 'string', default: '10' }, consumer: { type: 'string' } } });

if (values.consumer) {
  // Consumer process: parse every frame, measure delay from the flow's time (set at publish).
  const delays = [];
  let flows = 0;
  let dropped = 0;
  const ws = new WebSocket(values.consumer, { perMessageDeflate: false });
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString());
    if (message.type === 'flow') {
      flows++;
      delays.push(Date.now() - Date.parse(message.flow.time));
    } else if (message.type === 'dropped') dropped += message.count;
  });
  ws.on('open', () => process.send({ ready: true }));
  process.on('message', (m) => {
    if (m !== 'report') return;
    delays.sort((a, b) => a - b);
    const q = (p) => delays[Math.min(delays.length - 1, Math.floor(p * delays.length))] ?? 0;
    process.send({ flows, dropped, p50: q(0.5), p99: q(0.99), max: delays.at(-1) ?? 0 });
    ws.terminate();
    process.exit(0);
  });
} else {
  const { AgentServer } = await import('../dist/agent/server/http-server.js');
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);

  let n = 0;
  // Shaped like a captured curl → nginx flow (identity filled as the enrichers would).
  const flowAt = (time) => ({
    time, durationNs: String(150_000 + (n % 1000) * 1000), protocol: 'HTTP1', tls: n % 3 === 0, observedAt: n % 2 ? 'CLIENT' : 'SERVER',
    source: { ip: '10.0.3.17', port: 40000 + (n % 20000), pid: 4242, process: 'curl', workload: 'frontend', namespace: 'shop', workloadKind: 'Deployment', pod: 'frontend-7d9f8-abcde' },
    destination: { ip: '10.0.5.3', port: 8080, pid: 4100, process: 'nginx', workload: 'catalog', namespace: 'shop', workloadKind: 'Deployment', pod: 'catalog-5c6b-xyz12' },
    http: { method: 'GET', path: `/api/v1/items/${n % 5000}?page=2`, host: 'catalog.shop.svc:8080', status: n % 50 ? 200 : 503, requestBytes: '186', responseBytes: '2311' },
    connId: `4242:${n % 64}:${n++}`,
  });

  async function measure(name, start) {
    const { url, publishBatch, close } = await start();
    const consumer = fork(new URL(import.meta.url).pathname, ['--consumer', url], { stdio: 'inherit' });
    await new Promise((resolve) => consumer.once('message', resolve));
    const perTick = rate / 100;
    const cpuStart = process.cpuUsage();
    const t0 = performance.now();
    let published = 0;
    for (let tick = 1; performance.now() - t0 < seconds * 1000; tick++) {
      const time = new Date().toISOString();
      for (let i = 0; i < perTick; i++) publishBatch(flowAt(time));
      published += perTick;
      const wait = t0 + tick * 10 - performance.now();
      await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
    }
    const elapsed = (performance.now() - t0) / 1000;
    // Let the consumer drain what is in flight (bounded wait).
    const report = await new Promise((resolve) => {
      setTimeout(() => {
        consumer.once('message', resolve);
        consumer.send('report');
      }, 1500);
    });
    const cpu = process.cpuUsage(cpuStart);
    await close();
    const cpuMsPer1000 = ((cpu.user + cpu.system) / 1000) / (published / 1000);
    console.log(`${name.padEnd(26)} published ${Math.round(published / elapsed).toLocaleString('en-US')}/s  delivered ${Math.round(report.flows / elapsed).toLocaleString('en-US')}/s  dropped ${report.dropped}  delay p50 ${report.p50} ms  p99 ${report.p99} ms  max ${report.max} ms  server CPU ${cpuMsPer1000.toFixed(2)} ms/1000 flows`);
    return { ...report, rate: report.flows / elapsed, cpuMsPer1000 };
  }

  console.log(`stream bench: ${rate.toLocaleString('en-US')} flows/s for ${seconds} s to one WebSocket consumer (another process, parsing every frame); 2 rounds, alternating, best of each`);
  const startHub = async () => {
    const server = await AgentServer.start({ host: '127.0.0.1', port: 0, status: () => ({}), ready: () => true });
    return {
      url: `ws://127.0.0.1:${server.address.port}/v1/stream?kinds=flows`,
      publishBatch: (flow) => server.publish('flow', flow),
      close: () => server.close(),
    };
  };
  const startRaw = async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise((r) => wss.once('listening', r));
    return {
      url: `ws://127.0.0.1:${wss.address().port}/`,
      publishBatch: (flow) => {
        const frame = `{"type":"flow","flow":${JSON.stringify(flow)}}`;
        for (const c of wss.clients) c.send(frame);
      },
      close: () => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(r); }),
    };
  };
  const best = (a, b) => (b && (b.rate > a.rate || (b.rate === a.rate && b.p99 < a.p99)) ? b : a);
  let hub;
  let raw;
  for (let round = 0; round < 2; round++) {
    raw = best(await measure('reference: bare ws send', startRaw), raw);
    hub = best(await measure('flowscope stream server', startHub), hub);
  }
  console.log(`ratio flowscope/reference: delivered rate ${(hub.rate / raw.rate).toFixed(2)}, server CPU per flow ${(hub.cpuMsPer1000 / raw.cpuMsPer1000).toFixed(2)}`);
  const ok = hub.rate >= 50_000 && hub.p99 <= 1000 && hub.dropped === 0;
  console.log(`target ≥ 50,000 flows/s with p99 ≤ 1000 ms and no drops: ${ok ? 'met' : 'NOT met'}`);
}
