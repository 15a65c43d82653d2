// A small Kubernetes API server for tests, speaking the list/watch wire
// protocol that @kubernetes/client-node uses against a real cluster:
//  - GET <collection> → a JSON list with metadata.resourceVersion, paged with
//    `limit` and an opaque `continue` token;
//  - GET <collection>?watch=true&resourceVersion=N → a chunked stream of
//    {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":…} lines: every
//    change after N, then live changes; a version older than the retained
//    history yields an ERROR event with a 410 Status, as the real server does;
//  - fieldSelector (`a.b=c`, `a.b!=c`, comma = AND) on both, where an object
//    moving into or out of the selection is seen as ADDED or DELETED;
//  - timeoutSeconds ends a watch;
//  - HTTPS with its own certificate and a bearer token, as a cluster's API
//    server has (the client refuses plain HTTP unless TLS checks are off).
// Objects get uid, resourceVersion and namespace defaults on write.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type ResourceName = 'pods' | 'services' | 'replicasets' | 'jobs';

const COLLECTIONS: Record<string, { resource: ResourceName; listKind: string; apiVersion: string }> = {
  '/api/v1/pods': { resource: 'pods', listKind: 'PodList', apiVersion: 'v1' },
  '/api/v1/services': { resource: 'services', listKind: 'ServiceList', apiVersion: 'v1' },
  '/apis/apps/v1/replicasets': { resource: 'replicasets', listKind: 'ReplicaSetList', apiVersion: 'apps/v1' },
  '/apis/batch/v1/jobs': { resource: 'jobs', listKind: 'JobList', apiVersion: 'batch/v1' },
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KubeObject = { metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; [k: string]: unknown }; [k: string]: any };

interface ChangeEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  previous: KubeObject | undefined;
}

interface Watcher {
  resource: ResourceName;
  selector: (obj: KubeObject) => boolean;
  res: ServerResponse;
}

function fieldValue(obj: unknown, path: string): string {
  let value: unknown = obj;
  for (const part of path.split('.')) value = (value as Record<string, unknown> | undefined)?.[part];
  return value === undefined || value === null ? '' : String(value);
}

/** Compiles a fieldSelector; throws on syntax the real server would reject. */
function compileSelector(selector: string | null): (obj: KubeObject) => boolean {
  if (!selector) return () => true;
  const terms = selector.split(',').map((term) => {
    const m = /^([\w.]+)(!=|==|=)(.*)$/.exec(term);
    if (!m) throw new Error(`bad fieldSelector term '${term}'`);
    return { path: m[1]!, negate: m[2] === '!=', value: m[3]! };
  });
  return (obj) => terms.every((t) => (fieldValue(obj, t.path) === t.value) !== t.negate);
}

/** A self-signed certificate for 127.0.0.1, made with openssl. */
function selfSignedCertificate(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kube-api-cert-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export class KubeApiServer {
  readonly requests: URL[] = [];
  readonly #tls = selfSignedCertificate();
  readonly #token = randomBytes(16).toString('hex');
  #server: Server | undefined;
  #port = 0;
  #rv = 100;
  /** Versions at or below this are no longer in the history: watching from them gets 410. */
  #compactedRv = 0;
  readonly #objects = new Map<ResourceName, Map<string, KubeObject>>();
  readonly #history: ChangeEvent[] = [];
  readonly #historyOf = new Map<ChangeEvent, ResourceName>();
  readonly #watchers = new Set<Watcher>();
  readonly #sockets = new Set<Duplex>();
  /** Resources the token may not read (RBAC): 403 Forbidden. */
  readonly forbidden = new Set<ResourceName>();

  static async start(): Promise<KubeApiServer> {
    const server = new KubeApiServer();
    await server.listen();
    return server;
  }

  get url(): string {
    return `https://127.0.0.1:${this.#port}`;
  }

  get activeWatches(): number {
    return this.#watchers.size;
  }

  /** Listens (again, on the same port after `stop`). */
  async listen(): Promise<void> {
    const server = createServer({ cert: this.#tls.cert, key: this.#tls.key }, (req, res) => this.#handle(req, res));
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Stops listening and cuts every connection, as an API server restart does. */
  async stop(): Promise<void> {
    for (const w of this.#watchers) w.res.destroy();
    this.#watchers.clear();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
    this.#server = undefined;
  }

  /** A kubeconfig for this server: its certificate as the CA, and its token. */
  writeKubeconfig(path: string): string {
    writeFileSync(path, [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: test\n  cluster:\n    server: ${this.url}\n    certificate-authority-data: ${Buffer.from(this.#tls.cert).toString('base64')}`,
      'users:',
      `- name: test\n  user:\n    token: ${this.#token}`,
      'contexts:',
      '- name: test\n  context:\n    cluster: test\n    user: test',
      'current-context: test',
      '',
    ].join('\n'));
    return path;
  }

  /** Creates or replaces an object, as kubectl apply would; returns the stored copy. */
  apply(resource: ResourceName, obj: KubeObject): KubeObject {
    const table = this.#table(resource);
    const namespace = obj.metadata.namespace ?? 'default';
    const key = `${namespace}/${obj.metadata.name}`;
    const previous = table.get(key);
    const rv = ++this.#rv;
    const stored: KubeObject = structuredClone(obj);
    stored.metadata = { ...stored.metadata, namespace, uid: obj.metadata.uid ?? previous?.metadata.uid ?? randomUUID(), resourceVersion: String(rv) };
    table.set(key, stored);
    this.#record(resource, { rv, type: previous ? 'MODIFIED' : 'ADDED', object: stored, previous });
    return stored;
  }

  delete(resource: ResourceName, namespace: string, name: string): void {
    const table = this.#table(resource);
    const previous = table.get(`${namespace}/${name}`);
    if (!previous) return;
    table.delete(`${namespace}/${name}`);
    const rv = ++this.#rv;
    const object = { ...previous, metadata: { ...previous.metadata, resourceVersion: String(rv) } };
    this.#record(resource, { rv, type: 'DELETED', object, previous });
  }

  /** Ends every open watch normally (as a server-side watch timeout does). */
  closeWatches(): void {
    for (const w of this.#watchers) w.res.end();
    this.#watchers.clear();
  }

  /** Forgets the change history, so resuming a watch from an old version gets 410 Gone. */
  compact(): void {
    this.#compactedRv = this.#rv;
    for (const e of this.#history) this.#historyOf.delete(e);
    this.#history.length = 0;
  }

  #table(resource: ResourceName): Map<string, KubeObject> {
    let table = this.#objects.get(resource);
    if (!table) this.#objects.set(resource, (table = new Map()));
    return table;
  }

  #record(resource: ResourceName, event: ChangeEvent): void {
    this.#history.push(event);
    this.#historyOf.set(event, resource);
    for (const w of this.#watchers) if (w.resource === resource) this.#send(w, event);
  }

  /** Sends an event as the selection sees it: entering it is ADDED, leaving it DELETED. */
  #send(w: Watcher, event: ChangeEvent): void {
    const now = event.type !== 'DELETED' && w.selector(event.object);
    const before = event.previous !== undefined && w.selector(event.previous);
    let type: string | undefined;
    if (event.type === 'DELETED') type = before ? 'DELETED' : undefined;
    else if (now) type = before ? 'MODIFIED' : 'ADDED';
    else if (before) type = 'DELETED';
    if (type) w.res.write(`${JSON.stringify({ type, object: event.object })}\n`);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push(url);
    if (req.headers.authorization !== `Bearer ${this.#token}`) return this.#status(res, 401, 'Unauthorized', 'Unauthorized');
    const collection = COLLECTIONS[url.pathname];
    if (req.method !== 'GET' || !collection) return this.#status(res, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    if (this.forbidden.has(collection.resource)) {
      return this.#status(res, 403, 'Forbidden', `${collection.resource} is forbidden: User "system:serviceaccount:flowscope:flowscope" cannot list resource "${collection.resource}"`);
    }
    let selector: (obj: KubeObject) => boolean;
    try {
      selector = compileSelector(url.searchParams.get('fieldSelector'));
    } catch (err) {
      return this.#status(res, 400, 'BadRequest', (err as Error).message);
    }
    const watch = url.searchParams.get('watch');
    if (watch === 'true' || watch === '1') return this.#watch(collection.resource, selector, url, res);
    this.#list(collection, selector, url, res);
  }

  #list(collection: { resource: ResourceName; listKind: string; apiVersion: string }, selector: (obj: KubeObject) => boolean, url: URL, res: ServerResponse): void {
    const all = [...this.#table(collection.resource).values()].filter(selector).sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
    const limit = Number(url.searchParams.get('limit') ?? 0);
    const token = url.searchParams.get('continue');
    const offset = token ? Number(Buffer.from(token, 'base64url').toString()) : 0;
    const items = limit > 0 ? all.slice(offset, offset + limit) : all.slice(offset);
    const metadata: Record<string, string> = { resourceVersion: String(this.#rv) };
    if (limit > 0 && offset + limit < all.length) metadata.continue = Buffer.from(String(offset + limit)).toString('base64url');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: collection.listKind, apiVersion: collection.apiVersion, metadata, items }));
  }

  #watch(resource: ResourceName, selector: (obj: KubeObject) => boolean, url: URL, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const from = Number(url.searchParams.get('resourceVersion') || this.#rv);
    if (from < this.#compactedRv) {
      const status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${this.#compactedRv})`, reason: 'Expired', code: 410 };
      res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      return;
    }
    const watcher: Watcher = { resource, selector, res };
    for (const event of this.#history) if (event.rv > from && this.#historyOf.get(event) === resource) this.#send(watcher, event);
    this.#watchers.add(watcher);
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.once('close', () => {
      clearTimeout(timer);
      this.#watchers.delete(watcher);
    });
  }

  #status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
  }
}
