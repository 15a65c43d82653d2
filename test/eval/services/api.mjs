// The scenario's "api" service: a plaintext HTTP/1.1 JSON API. Its behaviour
// mode (normal, errors, slow, large, leak) is read from a file, so the
// scenario can inject faults without calling an endpoint the baseline would see.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [host, port, modeFile] = process.argv.slice(2);
/** Read on every request (a few dozen a second), so a mode change applies to the very next one. */
function currentMode() {
  try {
    return readFileSync(modeFile, 'utf8').trim() || 'normal';
  } catch {
    return 'normal';
  }
}

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const users = new Map(Array.from({ length: 500 }, (_, i) => [String(i + 1), { id: i + 1, name: `user${i + 1}`, plan: i % 3 ? 'basic' : 'pro' }]));

function route(req, res) {
  const url = new URL(req.url ?? '/', 'http://api');
  const m = currentMode();
  if (m === 'errors' && url.pathname !== '/health') return json(res, 503, { error: 'backend unavailable' });
  const parts = url.pathname.split('/').filter(Boolean);
  if (url.pathname === '/health') return json(res, 200, { ok: true });
  if (parts[0] === 'users' && parts.length === 2) {
    const user = users.get(parts[1]);
    if (!user) return json(res, 404, { error: 'no such user' });
    return json(res, 200, m === 'leak' ? { ...user, card: '4111 1111 1111 1111', ssn: '123-45-6789' } : user);
  }
  if (url.pathname === '/orders') {
    const limit = m === 'large' ? 50_000 : Math.min(Number(url.searchParams.get('limit') ?? 10), 50);
    return json(res, 200, Array.from({ length: limit }, (_, i) => ({ id: i, item: `item-${i}`, qty: 1 + (i % 4) })));
  }
  if (url.pathname === '/login' && req.method === 'POST') {
    const auth = req.headers.authorization ?? '';
    return auth === `Basic ${Buffer.from('alice:secret').toString('base64')}` ? json(res, 200, { token: 'ok' }) : json(res, 401, { error: 'bad credentials' });
  }
  return json(res, 404, { error: 'not found' });
}

createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const delay = currentMode() === 'slow' ? 400 : 0;
    if (delay) setTimeout(() => route(req, res), delay);
    else route(req, res);
  });
}).listen(Number(port), host);
