// Socket events through a real Pipeline, then a scrape: the health counters
// and the RED series agree with what went in.
import { describe, expect, it } from 'vitest';
import { dataEvent as data, openEvent as open } from '../../helpers/socket-events.js';
import { createAgentMetrics } from '../../../agent/metrics/agent-metrics.js';
import { RedMetrics } from '../../../agent/metrics/red-metrics.js';
import { Pipeline } from '../../../agent/pipeline.js';


const REQ = 'GET /orders/42 HTTP/1.1\r\nHost: svc\r\n\r\n';
const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
const FAIL = 'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n';

function sample(text: string, prefix: string, ...fragments: string[]): number {
  const lines = text.split('\n').filter((l) => l.startsWith(prefix) && fragments.every((f) => l.includes(f)));
  expect(lines, `${prefix} ${fragments.join(' ')} in\n${text}`).toHaveLength(1);
  return Number(lines[0]!.split(' ').at(-1));
}

describe('agent metrics', () => {
  it('expose what the pipeline counted and the RED series of its flows', async () => {
    const pipeline = new Pipeline();
    const registry = createAgentMetrics(pipeline, () => undefined, () => 3);
    const red = new RedMetrics(registry);
    pipeline.onFlow((flow) => red.observe(flow));

    pipeline.handle(open(), 0);
    pipeline.handle(data('egress', 0, REQ), 0);
    pipeline.handle(data('ingress', 0, OK), 0);
    pipeline.handle(data('egress', REQ.length, REQ), 0);
    pipeline.handle(data('ingress', OK.length, FAIL), 0);
    // A second connection whose "response" is not HTTP: a decode error, not a crash.
    pipeline.handle(open({ fd: 6, localPort: 40001 }), 0);
    pipeline.handle(data('egress', 0, REQ, { fd: 6 }), 0);
    pipeline.handle(data('ingress', 0, 'SSH-2.0-OpenSSH_9.2\r\n\r\n\r\n', { fd: 6 }), 0);

    const text = await registry.metrics();
    expect(sample(text, 'flowscope_events_total{', 'kind="data"')).toBe(6);
    expect(sample(text, 'flowscope_flows_total{', 'protocol="HTTP1"')).toBe(2);
    expect(sample(text, 'flowscope_connections_tracked')).toBe(2);
    expect(sample(text, 'flowscope_loss_total{', 'cause="output_dropped"')).toBe(3);
    expect(sample(text, 'flowscope_decode_errors_total{', 'protocol="HTTP1"', 'code="FLOWSCOPE_ERR_HTTP1_BAD_START_LINE"')).toBe(1);
    expect(sample(text, 'flowscope_tls_binaries_probed{', 'outcome="attached"')).toBe(0);

    const edge = ['source_workload="curl"', 'destination_workload="external"', 'reporter="client"', 'destination_port="8080"'];
    expect(sample(text, 'flowscope_requests_total{', ...edge)).toBe(2);
    expect(sample(text, 'flowscope_request_errors_total{', ...edge)).toBe(1);
    expect(text).not.toContain('/orders');
  });
});
