// How the CLI reaches an agent: --server / FLOWSCOPE_SERVER (default
// http://127.0.0.1:7070) and --token / FLOWSCOPE_TOKEN. Failures are one line
// naming the fix.
import { ErrorCodes, FlowscopeError } from '../errors.js';

export interface ServerTarget {
  /** http(s)://host:port of the agent. */
  base: URL;
  token: string | undefined;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:7070';

export function serverTarget(values: Record<string, unknown>): ServerTarget {
  const raw = (values.server as string | undefined) ?? process.env.FLOWSCOPE_SERVER ?? DEFAULT_SERVER;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let base: URL;
  try {
    base = new URL(withScheme);
  } catch {
    throw badServer(raw);
  }
  if (base.protocol === 'ws:') base.protocol = 'http:';
  if (base.protocol === 'wss:') base.protocol = 'https:';
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw badServer(raw);
  const token = (values.token as string | undefined) ?? process.env.FLOWSCOPE_TOKEN;
  return { base, token: token === '' ? undefined : token };
}

function badServer(raw: string): FlowscopeError {
  return new FlowscopeError(ErrorCodes.BAD_FLAG, `--server '${raw}' is not an agent address`, 'pass e.g. --server http://127.0.0.1:7070 or https://node-1:7070');
}

export function authHeaders(target: ServerTarget): Record<string, string> {
  return target.token ? { authorization: `Bearer ${target.token}` } : {};
}

/** The one-line error for an HTTP status the agent answered with. */
export function statusError(target: ServerTarget, status: number, what: string, body = ''): FlowscopeError {
  if (status === 401) {
    return new FlowscopeError(ErrorCodes.OUTPUT, `the agent at ${target.base.origin} refused ${target.token ? 'the token' : 'a request without a token'}`,
      'pass the token from the agent\'s --token-file with --token or FLOWSCOPE_TOKEN');
  }
  if (status === 429) {
    return new FlowscopeError(ErrorCodes.OUTPUT, `the agent at ${target.base.origin} refused another stream from this host`, 'close other flowscope streams to this agent');
  }
  if (status === 503 && /not enabled/.test(body)) {
    const detail = (() => {
      try {
        return (JSON.parse(body) as { error?: string }).error ?? body;
      } catch {
        return body;
      }
    })();
    return new FlowscopeError(ErrorCodes.OUTPUT, `${what}: ${detail}`, 'run an agent with the baseline and detection enabled');
  }
  return new FlowscopeError(ErrorCodes.OUTPUT, `${what}: the agent answered HTTP ${status}${body ? ` (${body.trim().slice(0, 200)})` : ''}`, 'check the agent\'s log');
}

export function unreachable(target: ServerTarget, err: Error): FlowscopeError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const reason = (err as { code?: string }).code ?? cause?.code ?? cause?.message ?? err.message;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(reason)) {
    return new FlowscopeError(ErrorCodes.OUTPUT, `the agent at ${target.base.origin} has a certificate this host does not trust (${reason})`,
      'trust it with NODE_EXTRA_CA_CERTS=/path/to/the/agent/cert.pem');
  }
  return new FlowscopeError(ErrorCodes.OUTPUT, `cannot reach the agent at ${target.base.origin} (${reason})`,
    'start it with sudo flowscope agent, or pass --server URL (env FLOWSCOPE_SERVER)');
}

/** GET (or POST) a JSON document from the agent's API. */
export async function requestJson<T>(target: ServerTarget, path: string, what: string, method: 'GET' | 'POST' = 'GET'): Promise<T> {
  let res: Response;
  try {
    res = await fetch(new URL(path, target.base), { method, headers: authHeaders(target), signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw unreachable(target, err as Error);
  }
  const body = await res.text();
  if (!res.ok) throw statusError(target, res.status, what, body);
  try {
    return JSON.parse(body) as T;
  } catch {
    throw new FlowscopeError(ErrorCodes.OUTPUT, `${what}: the agent sent something other than JSON`, `check that ${target.base.origin} is a flowscope agent`);
  }
}
