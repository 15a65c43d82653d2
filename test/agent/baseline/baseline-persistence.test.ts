import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Baseline } from '../../../agent/baseline/baseline.js';
import { BASELINE_SCHEMA_VERSION, BaselineDbError } from '../../../agent/baseline/baseline-db.js';
import { waitFor } from '../../helpers/wait.mjs';
import { makeFlow, type FlowSpec } from './make-flow.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const dirs: string[] = [];

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-baseline-'));
  dirs.push(dir);
  return join(dir, 'baseline.db');
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function feed(baseline: Baseline, spec: FlowSpec, endpoint = 'GET /api/orders/{id}'): void {
  const { flow, exchange } = makeFlow(spec);
  baseline.record(baseline.lookup(flow, endpoint, spec.timeMs), Baseline.sampleOf(flow, exchange, spec.timeMs));
}

describe('baseline persistence', () => {
  it('uses WAL, synchronous=NORMAL and a versioned schema', () => {
    const path = tempDb();
    const baseline = new Baseline({ dbPath: path, now: () => T0 });
    baseline.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(BASELINE_SCHEMA_VERSION);
    db.close();
  });

  it('restores edges, endpoints, sketches, history, mode and learn deadline after a restart', () => {
    const path = tempDb();
    let now = T0;
    const first = new Baseline({ dbPath: path, learnWindowMs: 60_000, windowMs: 1000, now: () => now });
    for (let i = 0; i < 500; i++) feed(first, { timeMs: T0 + i * 100, latencyMs: 1 + (i % 50), responseBytes: 100 * (1 + (i % 7)) });
    feed(first, { timeMs: T0 + 50_000, destination: { workload: 'payments' }, tls: true, headers: [['Authorization', 'Basic eA==']] }, 'POST /pay');
    now = T0 + 30_000;
    first.relearn('payments', now);
    feed(first, { timeMs: now + 10, destination: { workload: 'payments' }, tls: true }, 'POST /pay');
    const before = [...first.edges()].map((e) => ({
      key: e.key, requests: e.requests, p50: e.latencyMs.quantile(0.5), p99: e.responseBytes.quantile(0.99),
      history: e.series.historyFor(T0)?.length, endpoints: [...e.endpoints.keys()], baselined: e.baselined,
    }));
    first.close();

    // A later start with a different learn window keeps the original deadline.
    now = T0 + 61_000;
    const second = new Baseline({ dbPath: path, learnWindowMs: 3_600_000, windowMs: 5000, now: () => now });
    expect(second.mode(now)).toMatchObject({ mode: 'detect', learnUntilMs: T0 + 60_000 });
    expect(second.windowMs).toBe(1000);
    expect(second.mode(now).relearning).toEqual({ 'shop/payments': T0 + 30_000 + 60_000 });
    const after = [...second.edges()].map((e) => ({
      key: e.key, requests: e.requests, p50: e.latencyMs.quantile(0.5), p99: e.responseBytes.quantile(0.99),
      history: e.series.historyFor(T0)?.length, endpoints: [...e.endpoints.keys()], baselined: e.baselined,
    }));
    expect(after).toEqual(before);
    expect(second.counters.loadErrors).toBe(0);
    const orders = [...second.edges()].find((e) => e.destination.workload === 'orders')!;
    expect(orders.endpoints.get('GET /api/orders/{id}')!.requests).toBe(500);
    expect(orders.series.historyFor(T0)!.length).toBeGreaterThan(40);
    second.close();
  });

  it('checkpoints only what changed, on its timer, in one transaction', async () => {
    const path = tempDb();
    const baseline = new Baseline({ dbPath: path, checkpointIntervalMs: 30, now: () => T0 });
    feed(baseline, { timeMs: T0 });
    await waitFor('first checkpoint', () => baseline.counters.checkpoints >= 1);
    const reader = new Database(path, { readonly: true });
    expect((reader.prepare('SELECT count(*) AS n FROM edges').get() as { n: number }).n).toBe(1);
    const checkpoints = baseline.counters.checkpoints;
    feed(baseline, { timeMs: T0 + 1, destination: { workload: 'b' } });
    await waitFor('second checkpoint', () => baseline.counters.checkpoints > checkpoints);
    expect((reader.prepare('SELECT count(*) AS n FROM edges').get() as { n: number }).n).toBe(2);
    reader.close();
    baseline.close();
  });

  it('upgrades a version 1 database in place, keeping its edges', () => {
    const path = tempDb();
    const db = new Database(path);
    db.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE edges (key TEXT PRIMARY KEY, data TEXT NOT NULL, latency BLOB, size BLOB, history BLOB);
      CREATE TABLE endpoints (edge_key TEXT NOT NULL, endpoint TEXT NOT NULL, data TEXT NOT NULL, latency BLOB, size BLOB, history BLOB, PRIMARY KEY (edge_key, endpoint));
      PRAGMA user_version = 1;
    `);
    const node = (id: string): object => ({ id, workload: id, kind: 'process' });
    db.prepare('INSERT INTO edges (key, data) VALUES (?, ?)').run('k', JSON.stringify({ source: node('a'), destination: node('b'), port: 80, protocol: 'HTTP1', tls: false, requests: 3, baselined: true }));
    db.close();
    const baseline = new Baseline({ dbPath: path, now: () => T0 });
    expect([...baseline.edges()].map((e) => [e.key, e.requests, e.baselined])).toEqual([['k', 3, true]]);
    baseline.close();
    const after = new Database(path, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(2);
    expect(after.prepare("SELECT name FROM sqlite_master WHERE name = 'anomalies'").get()).toBeDefined();
    after.close();
  });

  it('refuses a database written by a newer schema', () => {
    const path = tempDb();
    const db = new Database(path);
    db.pragma(`user_version = ${BASELINE_SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => new Baseline({ dbPath: path })).toThrow(BaselineDbError);
  });

  it('skips unreadable rows, counting them', () => {
    const path = tempDb();
    const first = new Baseline({ dbPath: path, now: () => T0 });
    feed(first, { timeMs: T0 });
    feed(first, { timeMs: T0, destination: { workload: 'b' } });
    first.close();
    const db = new Database(path);
    db.prepare("UPDATE edges SET data = '{not json' WHERE key LIKE '%/b%'").run();
    db.prepare("UPDATE endpoints SET latency = x'0102' WHERE edge_key NOT LIKE '%/b%'").run();
    db.close();
    const second = new Baseline({ dbPath: path, now: () => T0 });
    expect(second.edgeCount).toBe(1);
    expect(second.counters.loadErrors).toBe(2);
    second.close();
  });

  it('survives kill -9 mid-write: integrity ok, data present up to the last checkpoint', async () => {
    const path = tempDb();
    const writer = fileURLToPath(new URL('./fixtures/baseline-writer.ts', import.meta.url));
    const viteNode = fileURLToPath(new URL('../../../node_modules/.bin/vite-node', import.meta.url));
    const child = spawn(viteNode, [writer, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    try {
      await waitFor('five checkpoints from the writer', () => out.split('\n').filter((l) => l.startsWith('checkpointed ')).length >= 5 || (err.includes('Error') && err), 30_000);
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');
    const lines = out.split('\n').filter((l) => l.startsWith('checkpointed '));
    expect(lines.length, err).toBeGreaterThanOrEqual(5);
    const lastCheckpointed = Number(lines[lines.length - 1]!.split(' ')[1]);
    expect(lastCheckpointed).toBeGreaterThan(0);

    const db = new Database(path);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    const reopened = new Baseline({ dbPath: path, checkpointIntervalMs: 60_000 });
    let requests = 0;
    for (const edge of reopened.edges()) requests += edge.requests;
    expect(requests).toBeGreaterThanOrEqual(lastCheckpointed);
    expect(reopened.counters.loadErrors).toBe(0);
    expect(reopened.mode().mode).toBe('learn');
    reopened.close();
  });
});
