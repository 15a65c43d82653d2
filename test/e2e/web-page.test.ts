// The live service-map page in headless Chromium: first against the agent's
// HTTP server in this process with records published by the test (anomaly
// feed, /v1/map, hostile text), then against the real agent capturing curl →
// nginx on the kernel: the edge and the flows appear, a filter applies.
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Anomaly, Flow } from '../../agent/schema/flow.js';
import { AgentServer } from '../../agent/server/http-server.js';
import { createWebHandler } from '../../agent/web/web-handler.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { freePort, Nginx } from '../helpers/nginx.mjs';
import { waitFor } from '../helpers/wait.mjs';

const run = promisify(execFile);

let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
});

/** A page that records script errors and CSP violations (a failed fetch of /v1/map is expected: 503). */
async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  await page.goto(url);
  await waitFor('the page to subscribe', async () => (await page.textContent('#stream-state')) === 'live');
  return { page, problems };
}

async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(tmpdir(), `flowscope-${name}-${Date.now()}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
  return path;
}

function edgeSelector(destination: string, port: number): string {
  return `svg#graph g.edge[data-destination="${destination}"][data-port="${port}"]`;
}

function testFlow(overrides: Partial<Flow> = {}): Flow {
  return {
    time: new Date().toISOString(),
    durationNs: '1500000',
    protocol: 'HTTP1',
    tls: true,
    observedAt: 'SERVER',
    source: { ip: '198.18.0.10', port: 41000, workload: 'web', namespace: 'shop', workloadKind: 'Deployment' },
    destination: { ip: '198.18.0.20', port: 8443, workload: 'api', namespace: 'shop', workloadKind: 'Deployment' },
    http: { method: 'GET', path: '/users/7', status: 200, requestBytes: '120', responseBytes: '900' },
    connId: '7:9:1',
    ...overrides,
  };
}

describe('the page against the agent server in this process', () => {
  let server: AgentServer;
  let base: string;
  let mapServed = false;
  let closed = false;

  beforeAll(async () => {
    server = await AgentServer.start({
      host: '127.0.0.1',
      port: 0,
      status: () => ({}),
      ready: () => true,
      staticHandler: createWebHandler(),
    });
    base = `http://127.0.0.1:${server.address.port}`;
  });

  afterAll(async () => {
    if (!closed) await server?.close();
  });

  it('shows published flows as an edge and rows, and anomalies updated in place by id', async () => {
    const { page, problems } = await openPage(`${base}/`);
    for (let i = 0; i < 5; i++) server.publish('flow', testFlow());
    server.publish('flow', testFlow({ http: { method: 'POST', path: '/users', status: 503, requestBytes: '1', responseBytes: '1' } }));
    const edge = edgeSelector('shop/api', 8443);
    await page.waitForSelector(`${edge}[data-requests="6"]`, { state: 'attached' });
    expect(await page.getAttribute(edge, 'data-tls')).toBe('tls');
    expect(await page.getAttribute(edge, 'data-errors')).toBe('1');
    expect(await page.getAttribute(edge, 'class')).toContain('failing');
    const label = await page.textContent('svg#graph text.edge-label');
    expect(label).toMatch(/TLS · HTTP1 :8443 · 0\.60\/s/);
    expect(label).toMatch(/err 17% · p50 1\.5ms · p99 1\.5ms/);
    await waitFor('six flow rows', async () => (await page.$$('#flow-rows tr.flow')).length === 6);
    expect(await page.textContent('#flow-rows tr.flow.error td.status')).toBe('503');
    // A row opens to the whole record, and closes again.
    await page.click('#flow-rows tr.flow.error td.path');
    expect(JSON.parse((await page.textContent('#flow-rows tr.detail pre'))!)).toMatchObject({ connId: '7:9:1', http: { method: 'POST', status: 503 } });
    await page.click('#flow-rows tr.flow.error td.path');
    expect(await page.$$('#flow-rows tr.detail')).toHaveLength(0);

    const anomaly: Anomaly = {
      id: 'a-1', kind: 'NEW_EDGE', severity: 'MEDIUM', state: 'OPEN',
      source: testFlow().source, destination: testFlow().destination,
      summary: 'web called api for the first time', count: '1',
      firstSeen: new Date().toISOString(), lastSeen: new Date().toISOString(), destinationPort: 8443, mitreTechnique: 'T1021',
    };
    server.publish('anomaly', anomaly);
    await page.waitForSelector('#anomaly-list li.anomaly[data-id="a-1"]');
    server.publish('anomaly', { ...anomaly, count: '4', state: 'CLOSED', summary: 'accepted into the baseline' });
    await page.waitForSelector('#anomaly-list li.anomaly.state-closed[data-id="a-1"]');
    expect(await page.$$('#anomaly-list li.anomaly')).toHaveLength(1);
    expect(await page.textContent('#anomaly-list li .summary')).toBe('accepted into the baseline');
    expect(await page.textContent('#anomaly-list li .anomaly-edge')).toBe('web → api:8443  [T1021]');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('renders hostile paths and names as text, never as markup', async () => {
    const { page, problems } = await openPage(`${base}/`);
    const hostile = '/<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>';
    server.publish('flow', testFlow({ http: { method: 'GET', path: hostile, status: 200, requestBytes: '1', responseBytes: '1' },
      source: { ip: '198.18.0.11', port: 1, workload: '<b>evil</b>' } }));
    await waitFor('the hostile row', async () => (await page.$$eval('#flow-rows td.path', (tds) => tds.map((td) => td.textContent))).includes(hostile));
    expect(await page.$$('#flow-rows img, #flow-rows script, #flow-rows b, svg#graph b')).toHaveLength(0);
    expect(await page.title()).toBe('flowscope — live service map');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('applies a filter on a new subscription, keeps it in the address, and shows a refused filter', async () => {
    const { page } = await openPage(`${base}/`);
    await page.fill('input[name=status]', '5xx');
    await page.click('#apply');
    await waitFor('the filtered subscription', async () => (await page.textContent('#stream-state')) === 'live' && page.url().endsWith('#status=5xx'));
    server.publish('flow', testFlow({ connId: 'after-filter-ok' }));
    server.publish('flow', testFlow({ connId: 'after-filter-503', http: { method: 'GET', path: '/boom', status: 503, requestBytes: '1', responseBytes: '1' } }));
    await waitFor('the 5xx row', async () => (await page.$$('#flow-rows tr.flow[data-status="503"] td.path')).length > 0);
    const statuses = await page.$$eval('#flow-rows tr.flow', (rows) => rows.map((r) => (r as HTMLElement).dataset.status));
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set(['503']));
    expect(await page.textContent('#cli-equivalent')).toBe('flowscope flows --follow --status 5xx');

    // A reload keeps the filter.
    await page.reload();
    await waitFor('the page to subscribe again', async () => (await page.textContent('#stream-state')) === 'live');
    expect(await page.inputValue('input[name=status]')).toBe('5xx');

    await page.fill('input[name=status]', 'teapot');
    await page.click('#apply');
    await waitFor('the refusal', async () => /status/.test((await page.textContent('#filter-error')) ?? ''));
    expect(await page.textContent('#stream-state')).toBe('filter refused');
    await page.close();
  });

  it('narrows the stream to one edge when the edge is clicked', async () => {
    const { page, problems } = await openPage(`${base}/`);
    const frontend = { ip: '198.18.0.30', port: 42000, workload: 'frontend', namespace: 'shop' };
    const web = { ip: '198.18.0.10', port: 80, workload: 'web', namespace: 'shop' };
    server.publish('flow', testFlow({ source: frontend, destination: web }));
    server.publish('flow', testFlow());
    const edge = edgeSelector('shop/api', 8443);
    await page.waitForSelector(`svg#graph g.edge[data-source="shop/frontend"]`, { state: 'attached' });
    // A straight edge has a zero-height box, which Playwright calls invisible: click it anyway.
    await page.click(`${edge}[data-source="shop/web"] path.edge-hit`, { force: true });
    await waitFor('the edge filter', async () => (await page.textContent('#stream-state')) === 'live' && page.url().includes('#from=shop%2Fweb&to=shop%2Fapi'));
    expect(await page.inputValue('input[name=from]')).toBe('shop/web');
    expect(await page.inputValue('input[name=to]')).toBe('shop/api');
    server.publish('flow', testFlow({ source: frontend, destination: web, connId: 'after-click' }));
    server.publish('flow', testFlow({ connId: 'after-click' }));
    await waitFor('rows of the clicked edge', async () => (await page.$$('#flow-rows tr.flow')).length > 0);
    await waitFor('the other edge to leave the graph', async () => (await page.$('svg#graph g.edge[data-source="shop/frontend"]')) === null);
    const pairs = await page.$$eval('#flow-rows tr.flow', (trs) => trs.map((tr) => `${(tr as HTMLElement).dataset.source}>${(tr as HTMLElement).dataset.destination}`));
    expect(new Set(pairs)).toEqual(new Set(['web>api']));
    expect(problems).toEqual([]);
    await page.close();
  });

  it('draws edges the agent map knows even without stream traffic for them', async () => {
    server.provide({
      map: () => {
        mapServed = true;
        return {
          nodes: [{ id: 'shop/web', workload: 'web', namespace: 'shop', kind: 'Deployment' }, { id: 'shop/db', workload: 'db', namespace: 'shop', kind: 'StatefulSet' }],
          edges: [{ source: 'shop/web', destination: 'shop/db', port: 5432, protocol: 'HTTP1', tls: false, requests: 42, errors: 0, p50Ms: 3, p99Ms: 9, rps: 1.5 }],
        };
      },
    });
    const { page, problems } = await openPage(`${base}/`);
    await page.waitForSelector(`${edgeSelector('shop/db', 5432)}[data-tls="plaintext"][data-requests="42"]`, { state: 'attached' });
    expect(mapServed).toBe(true);
    expect(await page.textContent('#graph-source')).toBe('agent map + live stream');
    expect(await page.textContent('svg#graph g.node[data-node="shop/db"]')).toContain('StatefulSet');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('says when the connection to the agent is lost', async () => {
    const { page } = await openPage(`${base}/`);
    closed = true;
    await server.close();
    await waitFor('the lost-connection notice', async () => /connection lost/.test((await page.textContent('#stream-state')) ?? ''));
    await page.close();
  });
});

describe('the page served by the real agent', () => {
  let nginx: Nginx;
  let agent: AgentProcess;
  let base: string;

  beforeAll(async () => {
    nginx = await Nginx.start({ locations: 'location = /status/503 { return 503; }' });
    const port = await freePort();
    agent = await AgentProcess.start(['--listen', `127.0.0.1:${port}`]);
    base = `http://127.0.0.1:${port}`;
    const page = await fetch(`${base}/`);
    if (!(page.headers.get('content-type') ?? '').startsWith('text/html')) {
      throw new Error(`the agent does not serve the page at / (HTTP ${page.status}): pass staticHandler: createWebHandler() to AgentServer.start`);
    }
  });

  afterAll(async () => {
    await agent?.stop();
    nginx?.stop();
  });

  /** Bounded traffic: one curl call per probe, to a path of nginx. */
  async function curl(path: string): Promise<void> {
    await run('curl', ['-s', '-o', '/dev/null', `${nginx.url}${path}`]);
  }

  it('shows the curl → nginx edge and its flows live, then applies a filter', async () => {
    const { page, problems } = await openPage(`${base}/`);
    // Identity may name a host process as its workload (`nginx`) or leave it to the process (`process:nginx`).
    const edge = `svg#graph g.edge[data-port="${nginx.port}"]`;
    await waitFor('the nginx edge and a flow row', async () => {
      await curl('/index.html');
      const rows = await page.$$(`#flow-rows tr.flow[data-destination="nginx"]`);
      return rows.length > 0 && (await page.$(edge)) !== null;
    }, 30_000, 200);
    expect(await page.getAttribute(edge, 'data-source')).toMatch(/^(process:)?curl$/);
    expect(await page.getAttribute(edge, 'data-destination')).toMatch(/^(process:)?nginx$/);
    expect(await page.getAttribute(edge, 'data-tls')).toBe('plaintext');
    expect(await page.getAttribute(edge, 'data-protocol')).toBe('HTTP1');
    expect(await page.textContent(`#flow-rows tr.flow[data-destination="nginx"] td.path`)).toBe('/index.html');
    await screenshot(page, 'web-page-live');

    await page.fill('input[name=to]', 'nginx');
    await page.fill('input[name=status]', '5xx');
    await page.click('#apply');
    await waitFor('the filtered subscription', async () => (await page.textContent('#stream-state')) === 'live');
    await waitFor('a 503 row', async () => {
      await curl('/index.html');
      await curl('/status/503');
      return (await page.$$('#flow-rows tr.flow[data-status="503"]')).length > 0;
    }, 30_000, 200);
    const rows = await page.$$eval('#flow-rows tr.flow', (trs) => trs.map((tr) => `${(tr as HTMLElement).dataset.destination} ${(tr as HTMLElement).dataset.status}`));
    expect(new Set(rows)).toEqual(new Set(['nginx 503']));
    // The graph redraws on a timer, so its edge may trail the row that just arrived.
    await waitFor('the nginx edge drawn as failing', async () => /\bfailing\b/.test((await page.getAttribute(edge, 'class')) ?? ''), 10_000, 100);
    const path = await screenshot(page, 'web-page-filtered');
    expect(path).toMatch(/\.png$/);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('exposes RED series for the curl → nginx edge on /metrics', async () => {
    const port = `destination_port="${nginx.port}"`;
    const text = await waitFor('RED series for nginx', async () => {
      await curl('/status/503');
      const body = await (await fetch(`${base}/metrics`)).text();
      return /flowscope_request_errors_total\{[^}]*reporter="server"[^}]*\} [1-9]/.test(body.split('\n').filter((l) => l.includes(port)).join('\n')) ? body : undefined;
    }, 30_000, 200);
    const lines = text.split('\n').filter((l) => l.includes(port) && l.includes('reporter="server"'));
    const requests = lines.find((l) => l.startsWith('flowscope_requests_total{'));
    expect(requests).toMatch(/source_workload="curl"/);
    expect(requests).toMatch(/destination_workload="nginx"/);
    expect(requests).toMatch(/protocol="HTTP1",tls="false"/);
    expect(lines.some((l) => l.startsWith('flowscope_request_duration_seconds_bucket{') && l.includes('le="+Inf"'))).toBe(true);
    // Workload-level labels only: no paths.
    expect(text).not.toContain('/status/503');
  });
});
