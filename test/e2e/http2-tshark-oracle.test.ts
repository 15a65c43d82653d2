// tshark as the oracle: the same plaintext HTTP/2 and gRPC traffic is captured on
// loopback with tshark and decoded by its HTTP/2 dissector; flowscope's flows must
// say the same per stream (method, path, authority, status, grpc-status), on both
// observing sides, each stream exactly once.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Flow } from '../../agent/schema/flow.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { freePort, Nginx } from '../helpers/nginx.mjs';
import { waitFor } from '../helpers/wait.mjs';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const GRPCIO = fileURLToPath(new URL('../fixtures/grpc/grpc-calls.py', import.meta.url));
const GRPC_JS = fileURLToPath(new URL('../fixtures/grpc/grpc-js-calls.mjs', import.meta.url));

let agent: AgentProcess;
let dir: string;
const children: ChildProcess[] = [];
const servers: Nginx[] = [];

type Json = Record<string, unknown>;
const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** One line per HTTP/2 stream as tshark decodes it: "clientPort method path authority status grpc-status". */
async function tsharkStreams(pcap: string, serverPort: number): Promise<string[]> {
  const { stdout } = await run('tshark', ['-r', pcap, '-d', `tcp.port==${serverPort},http2`, '-Y', 'http2.type == 1', '-T', 'json', '--no-duplicate-keys'], { maxBuffer: 64 << 20 });
  const streams = new Map<string, Record<string, string>>();
  for (const packet of JSON.parse(stdout) as { _source: { layers: Json } }[]) {
    const layers = packet._source.layers;
    const tcp = layers.tcp as Json;
    const fromServer = Number(tcp['tcp.srcport']) === serverPort;
    const clientPort = fromServer ? tcp['tcp.dstport'] : tcp['tcp.srcport'];
    for (const http2 of list(layers.http2 as Json | Json[])) {
      for (const frame of list(http2['http2.stream'] as Json | Json[])) {
        if (frame['http2.type'] !== '1') continue;
        const key = `${clientPort} ${frame['http2.streamid']}`;
        const stream = streams.get(key) ?? {};
        streams.set(key, stream);
        for (const field of list(frame['http2.header'] as Json | Json[])) {
          const name = String(field['http2.header.name']);
          const value = String(field['http2.header.value']);
          const role = fromServer ? (name.startsWith(':') || name.startsWith('grpc-') ? name : '') : name;
          if (role === ':status' && Number(value) < 200) continue;
          if (role !== '' && !(role in stream)) stream[fromServer ? `res${role}` : `req${role}`] = value;
        }
      }
    }
  }
  return [...streams].map(([key, s]) => `${key.split(' ')[0]} ${s['req:method']} ${s['req:path']} ${s['req:authority']} ${s['res:status']} ${s['resgrpc-status'] ?? '-'}`).sort();
}

function flowLines(flows: Flow[], side: 'CLIENT' | 'SERVER'): string[] {
  return flows
    .filter((f) => f.observedAt === side)
    .map((f) => `${f.source.port} ${f.http.method} ${f.http.path} ${f.http.host} ${f.http.status} ${f.grpc?.status ?? '-'}`)
    .sort();
}

/** Connects to `port` and closes: a marker connection, returned by its client port. */
function knock(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('error', reject);
    socket.once('connect', () => {
      resolve(socket.localPort!);
      socket.destroy();
    });
  });
}

/** Whether the capture file already holds a packet from `clientPort`. */
async function captured(pcap: string, clientPort: number): Promise<boolean> {
  try {
    const { stdout } = await run('tshark', ['-r', pcap, '-Y', `tcp.srcport == ${clientPort}`, '-T', 'fields', '-e', 'frame.number']);
    return stdout.trim() !== '';
  } catch (err) {
    // The last block cut in the middle of a write: the packets before it still print.
    return String((err as { stdout?: string }).stdout ?? '').trim() !== '';
  }
}

/**
 * Marker connections until one is in the file: "Capture started" comes before the filter
 * is live, so this is how we know that everything sent before the marker was captured.
 */
async function markerCaptured(port: number, pcap: string): Promise<void> {
  await waitFor('tshark to capture a marker connection', async () => captured(pcap, await knock(port)), 20_000, 50);
}

/**
 * Starts tshark on loopback for one port. It writes the capture to a pipe (`-w -`), which
 * dumpcap flushes packet by packet (a file it would write in large batches), into `pcap`.
 */
async function startTshark(port: number, pcap: string): Promise<ChildProcess> {
  const child = spawn('tshark', ['-i', 'lo', '-f', `tcp port ${port}`, '-w', '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  child.stdout!.pipe(createWriteStream(pcap));
  await markerCaptured(port, pcap);
  return child;
}

async function stopTshark(child: ChildProcess, port: number, pcap: string): Promise<void> {
  await markerCaptured(port, pcap);
  const exited = new Promise((resolve) => child.stdout!.once('close', resolve));
  child.kill('SIGTERM');
  await exited;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowscope-tshark-'));
  agent = await AgentProcess.start();
});

afterAll(async () => {
  for (const c of children) c.kill();
  for (const s of servers) s.stop();
  rmSync(dir, { recursive: true, force: true });
  const code = await agent?.stop();
  expect(code).toBe(0);
});

describe('flowscope against tshark on the same plaintext traffic', () => {
  it('agrees with tshark on every stream of nghttp -m 20 to nginx h2c', async () => {
    const port = await freePort();
    const server = await Nginx.start({ locations: `listen 127.0.0.1:${port} http2;` });
    servers.push(server);
    const pcap = join(dir, 'nghttp.pcapng');
    const tshark = await startTshark(port, pcap);
    const paths = Array.from({ length: 20 }, (_, i) => [`/index.html?n=${i}`, `/status/201?n=${i}`, `/status/404?n=${i}`, `/gone?n=${i}`][i % 4]!);
    await run('nghttp', ['-n', '-m', '1', ...paths.map((p) => `http://127.0.0.1:${port}${p}`)]);
    const flows = await agent.waitForFlows('nghttp', port, 40);
    await stopTshark(tshark, port, pcap);
    const oracle = await tsharkStreams(pcap, port);
    expect(oracle).toHaveLength(20);
    expect(flowLines(flows, 'CLIENT')).toEqual(oracle);
    expect(flowLines(flows, 'SERVER')).toEqual(oracle);
  });

  it('agrees with tshark on grpc-status of every gRPC call (grpc-js client, grpcio server)', async () => {
    const port = await freePort();
    const serverProcess = spawn(PYTHON, [GRPCIO, 'server', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(serverProcess);
    let out = '';
    serverProcess.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('the gRPC server', () => out.includes('serving'));
    const pcap = join(dir, 'grpc.pcapng');
    const tshark = await startTshark(port, pcap);
    await run(process.execPath, [GRPC_JS, 'client', String(port)]);
    const flows = await agent.waitForFlows('gRPC', port, 12);
    await stopTshark(tshark, port, pcap);
    const oracle = await tsharkStreams(pcap, port);
    expect(oracle).toHaveLength(6);
    expect(oracle.filter((l) => / 0$/.test(l))).toHaveLength(4);
    expect(flowLines(flows, 'CLIENT')).toEqual(oracle);
    expect(flowLines(flows, 'SERVER')).toEqual(oracle);
  });
});
