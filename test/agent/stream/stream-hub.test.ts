// The /v1/stream WebSocket against a real server on loopback, with real ws
// clients: subscription by query and by message, filters, history, both
// frame formats, slow consumers and dead peers.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AgentServer } from '../../../agent/server/http-server.js';
import type { Flow } from '../../../agent/schema/flow.js';
import { waitFor } from '../../helpers/wait.mjs';
import { sampleAnomaly, sampleConnection, sampleFlow } from './sample-records.js';
import { WsSubscriber } from './ws-subscriber.js';

const servers: AgentServer[] = [];
const clients: WsSubscriber[] = [];

async function server(options: Partial<Parameters<typeof AgentServer.start>[0]> = {}): Promise<AgentServer> {
  const s = await AgentServer.start({ host: '127.0.0.1', port: 0, status: () => ({ engine: 'test' }), ready: () => true, ...options });
  servers.push(s);
  return s;
}

async function subscribe(s: AgentServer, query: string): Promise<WsSubscriber> {
  const c = await WsSubscriber.open(`ws://127.0.0.1:${s.address.port}/v1/stream?${query}`);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

describe('stream subscriptions', () => {
  it('sends subscribed, then live flows as JSON frames, in publish order', async () => {
    const s = await server();
    const c = await subscribe(s, 'kinds=flows');
    const [subscribed] = await c.waitFor('subscribed', 1);
    expect(subscribed).toEqual({ type: 'subscribed', kinds: ['flows'], history: 0 });
    const flows = [sampleFlow(), sampleFlow(), sampleFlow()];
    for (const f of flows) s.publish('flow', f);
    s.publish('connection', sampleConnection());
    const got = await c.waitFor('flow', 3);
    expect(got.map((m) => m.flow)).toEqual(flows);
    expect(c.of('connection')).toHaveLength(0);
  });

  it('applies the filter from f. query parameters: values OR, keys AND', async () => {
    const s = await server();
    const c = await subscribe(s, 'kinds=flows&f.status=5xx&f.status=401&f.from=web');
    await c.waitFor('subscribed', 1);
    const wanted = [sampleFlow({ status: 503 }), sampleFlow({ status: 401 })];
    s.publish('flow', sampleFlow({ status: 200 }));
    s.publish('flow', wanted[0]!);
    s.publish('flow', sampleFlow({ status: 500, source: { ip: '10.9.9.9', port: 1, workload: 'batch' } }));
    s.publish('flow', wanted[1]!);
    s.publish('flow', sampleFlow({ status: 404 }));
    const marker = sampleFlow({ status: 599 });
    s.publish('flow', marker);
    const got = await c.waitFor('flow', 3);
    expect(got.map((m) => m.flow)).toEqual([...wanted, marker]);
  });

  it('replays the last N matching records from history before live ones', async () => {
    const s = await server({ stream: { history: { flows: 50, anomalies: 10, connections: 10 } } });
    const published: Flow[] = [];
    for (let i = 0; i < 120; i++) {
      const f = sampleFlow({ status: i % 2 ? 500 : 200 });
      published.push(f);
      s.publish('flow', f);
    }
    const c = await subscribe(s, 'kinds=flows&last=5&f.status=5xx');
    const [subscribed] = await c.waitFor('subscribed', 1);
    expect(subscribed!.history).toBe(5);
    const history = await c.waitFor('flow', 5);
    expect(history.map((m) => m.flow)).toEqual(published.filter((f) => f.http.status === 500).slice(-5));
    const live = sampleFlow({ status: 502 });
    s.publish('flow', live);
    expect((await c.waitFor('flow', 6))[5]!.flow).toEqual(live);
  });

  it('keeps no more history than configured', async () => {
    const s = await server({ stream: { history: { flows: 10, anomalies: 10, connections: 10 } } });
    for (let i = 0; i < 100; i++) s.publish('flow', sampleFlow());
    const c = await subscribe(s, 'kinds=flows&last=1000');
    expect((await c.waitFor('subscribed', 1))[0]!.history).toBe(10);
    await c.waitFor('flow', 10);
  });

  it('merges history of several kinds in publish order', async () => {
    const s = await server();
    const a = sampleAnomaly();
    const f1 = sampleFlow();
    const f2 = sampleFlow();
    s.publish('flow', f1);
    s.publish('anomaly', a);
    s.publish('flow', f2);
    const c = await subscribe(s, 'kinds=flows,anomalies&last=10');
    await waitFor('3 records', () => c.messages.length >= 4);
    expect(c.messages.slice(1).map((m) => m.type)).toEqual(['flow', 'anomaly', 'flow']);
  });

  it('subscribes with a first message and can change the subscription', async () => {
    const s = await server();
    const c = await WsSubscriber.open(`ws://127.0.0.1:${s.address.port}/v1/stream`);
    clients.push(c);
    c.ws.send(JSON.stringify({ type: 'subscribe', kinds: ['anomalies'], filter: { severity: ['high'] } }));
    await c.waitFor('subscribed', 1);
    s.publish('anomaly', sampleAnomaly('LOW'));
    const critical = sampleAnomaly('CRITICAL');
    s.publish('anomaly', critical);
    expect((await c.waitFor('anomaly', 1))[0]!.anomaly).toEqual(critical);
    c.ws.send(JSON.stringify({ type: 'subscribe', kinds: ['connections'] }));
    await c.waitFor('subscribed', 2);
    const conn = sampleConnection();
    s.publish('connection', conn);
    expect((await c.waitFor('connection', 1))[0]!.connection).toEqual(conn);
  });

  it('answers a bad filter with an error message and closes a bad query subscription', async () => {
    const s = await server();
    const c = await subscribe(s, 'kinds=flows&f.status=6xx');
    const [error] = await c.waitFor('error', 1);
    expect(error!.message).toMatch(/--status.*6xx/);
    await waitFor('close', () => c.closeCode === 1008);
    const m = await WsSubscriber.open(`ws://127.0.0.1:${s.address.port}/v1/stream`);
    clients.push(m);
    m.ws.send('{"type":"subscribe","kinds":["flows"],"filter":{"path":["/(unclosed/"]}}');
    expect((await m.waitFor('error', 1))[0]!.message).toMatch(/--path/);
    m.ws.send('not json');
    await m.waitFor('error', 2);
    m.ws.send('{"type":"subscribe","kinds":["packets"]}');
    expect((await m.waitFor('error', 3))[2]!.message).toMatch(/unknown kind 'packets'/);
    expect(m.ws.readyState).toBe(WebSocket.OPEN);
    expect(s.hub.counters.badRequests).toBe(4);
  });

  it('sends binary protobuf StreamMessage frames on request', async () => {
    const s = await server();
    const c = await subscribe(s, 'kinds=flows,anomalies&format=protobuf');
    const [subscribed] = await c.waitFor('subscribed', 1);
    expect(subscribed).toEqual({ type: 'subscribed', kinds: ['flows', 'anomalies'], history: 0 });
    const flow = sampleFlow({ status: 404, tls: true });
    const anomaly = sampleAnomaly();
    s.publish('flow', flow);
    s.publish('anomaly', anomaly);
    expect((await c.waitFor('flow', 1))[0]!.flow).toEqual(flow);
    expect((await c.waitFor('anomaly', 1))[0]!.anomaly).toEqual(anomaly);
  });

  it('encodes each record once, for the history and every subscriber', async () => {
    const s = await server();
    const flow = sampleFlow();
    s.publish('flow', flow);
    const subscribers = await Promise.all([1, 2, 3].map(() => subscribe(s, 'kinds=flows')));
    for (const c of subscribers) await c.waitFor('subscribed', 1);
    let stringified = 0;
    const original = JSON.stringify;
    JSON.stringify = ((...args: Parameters<typeof JSON.stringify>) => {
      if (args[0] === flow || (args[0] as Flow)?.connId?.startsWith?.('100:')) stringified++;
      return original(...args);
    }) as typeof JSON.stringify;
    try {
      s.publish('flow', sampleFlow());
    } finally {
      JSON.stringify = original;
    }
    expect(stringified).toBe(1);
    for (const c of subscribers) await c.waitFor('flow', 1);
  });
});

describe('slow and dead consumers', () => {
  it('drops the oldest records for a stalled reader, reports how many, and never holds more than the cap', async () => {
    const s = await server({ stream: { queue: { maxRecords: 200, maxBytes: 256 << 10, socketHighWater: 64 << 10 } } });
    const slow = await subscribe(s, 'kinds=flows');
    const fast = await subscribe(s, 'kinds=flows');
    await slow.waitFor('subscribed', 1);
    await fast.waitFor('subscribed', 1);
    slow.ws.pause();
    const total = 5000;
    const big = 'x'.repeat(2000);
    // Paced by the fast reader: it keeps up, so it must get every record.
    for (let i = 0; i < total; i++) {
      s.publish('flow', sampleFlow({ path: `/p/${i}/${big}` }));
      if (i % 100 === 99) await fast.waitFor('flow', i + 1);
    }
    const fastFlows = await fast.waitFor('flow', total);
    expect(fast.of('dropped')).toHaveLength(0);
    expect(fastFlows.map((m) => m.flow.http.path.split('/')[2])).toEqual(Array.from({ length: total }, (_, i) => String(i)));
    const stats = s.hub.stats() as { queued: number; queuedBytes: number; dropped: number };
    expect(stats.queued).toBeLessThanOrEqual(200);
    expect(stats.queuedBytes).toBeLessThanOrEqual(256 << 10);
    expect(slow.ws.readyState).toBe(WebSocket.OPEN);
    expect(stats.dropped).toBeGreaterThan(total / 2);
    slow.ws.resume();
    const last = `/p/${total - 1}/${big}`;
    await waitFor('the slow reader to catch up', () => slow.of('flow').some((m) => m.flow.http.path === last), 20_000);
    const dropped = slow.of('dropped').reduce((sum, m) => sum + m.count, 0);
    expect(dropped + slow.of('flow').length).toBe(total);
    expect(dropped).toBe((s.hub.stats() as { dropped: number }).dropped);
    // What arrived is in order, with the gap announced where it is.
    const seq = slow.messages.filter((m) => m.type === 'flow' || m.type === 'dropped')
      .map((m) => (m.type === 'flow' ? Number(m.flow.http.path.split('/')[2]) : -m.count));
    let expected = 0;
    for (const n of seq) {
      if (n < 0) expected += -n;
      else expect(n).toBe(expected++);
    }
  });

  it('closes a peer that stops answering pings', async () => {
    const s = await server({ stream: { heartbeatMs: 100 } });
    const dead = await WsSubscriber.open(`ws://127.0.0.1:${s.address.port}/v1/stream?kinds=flows`, { autoPong: false });
    clients.push(dead);
    const alive = await subscribe(s, 'kinds=flows');
    await waitFor('the dead peer to be closed', () => dead.closeCode !== undefined, 5000);
    expect(s.hub.counters.deadPeers).toBe(1);
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    expect(s.hub.clients).toBe(1);
  });

  it('closes a connection that never subscribes', async () => {
    const s = await server({ stream: { subscribeTimeoutMs: 100 } });
    const idle = await WsSubscriber.open(`ws://127.0.0.1:${s.address.port}/v1/stream`);
    clients.push(idle);
    await waitFor('the idle connection to be closed', () => idle.closeCode === 1008);
    expect(idle.of('error')[0]!.message).toMatch(/no subscribe message/);
  });
});
