// JWT_WEAKNESS: a JWT presented with alg "none" (any case), an expired token
// that the server still accepted (2xx), or a JWT carried in the URL (where
// proxies and access logs keep it). Tokens are looked for in the
// Authorization header, cookies and the query string.
import { RE2JS } from 're2js';
import type { Detector, Finding, Observation } from '../finding.js';
import { BoundedMap } from '../../bounded-map.js';
import { flowWithoutUrl, maskSecret } from './excerpt.js';
import { decodeJwt, type DecodedJwt } from './jwt.js';
import { lengthsOf } from './header-lookup.js';
import { percentDecode } from './text-decoding.js';

export type JwtCheck = 'alg-none' | 'expired-accepted' | 'jwt-in-url';

export interface JwtConfig {
  enabled: boolean;
  checks: JwtCheck[];
  /** Clock skew tolerated before a token counts as expired. */
  expiryLeewayMs: number;
  /** Longest header value / URL searched for tokens. */
  maxFieldBytes: number;
}

export const defaultJwtConfig: JwtConfig = {
  enabled: true,
  checks: ['alg-none', 'expired-accepted', 'jwt-in-url'],
  expiryLeewayMs: 60_000,
  maxFieldBytes: 8192,
};

// Header and payload are JSON objects, so both start with "ey" ('{' in base64);
// an unsigned token has an empty third part.
const JWT_PATTERN = String.raw`\bey[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`;
const MAX_TOKENS_PER_FIELD = 4;
// A client presents the same token on every call until it expires: decode it once.
const DECODED_CACHE_SIZE = 4096;
const TOKEN_HEADER_LENGTHS = lengthsOf(['authorization', 'cookie', 'x-access-token', 'x-auth-token']);

interface TokenSighting {
  token: string;
  location: string;
  jwt: DecodedJwt;
}

export class JwtDetector implements Detector {
  readonly name = 'jwt-weakness';
  readonly #config: JwtConfig;
  readonly #checks: Set<JwtCheck>;
  readonly #pattern = RE2JS.compile(JWT_PATTERN);
  readonly #decoded = new BoundedMap<string, DecodedJwt | null>(DECODED_CACHE_SIZE);

  constructor(config: Partial<JwtConfig> = {}) {
    this.#config = { ...defaultJwtConfig, ...config };
    this.#checks = new Set(this.#config.checks);
  }

  observe(obs: Observation): Finding[] | undefined {
    const tokens = this.#tokens(obs);
    if (tokens.length === 0) return undefined;
    const status = obs.flow.http.status;
    const grpcStatus = obs.flow.grpc?.status;
    const accepted = obs.flow.grpc ? grpcStatus === 0 : status !== undefined && status >= 200 && status < 300;
    const findings: Finding[] = [];
    const fired = new Set<JwtCheck>();
    const add = (check: JwtCheck, severity: Finding['severity'], sentence: string, t: TokenSighting, extra: Record<string, string> = {}): void => {
      if (fired.has(check) || !this.#checks.has(check)) return;
      fired.add(check);
      findings.push({
        kind: 'JWT_WEAKNESS',
        severity,
        subject: check,
        endpoint: obs.endpoint,
        summary: `${sentence} (${t.location} of ${obs.endpoint})`,
        details: {
          check,
          location: t.location,
          alg: typeof t.jwt.header['alg'] === 'string' ? String(t.jwt.header['alg']).slice(0, 32) : '(missing)',
          token: maskSecret(t.token),
          ...(status !== undefined ? { responseStatus: String(grpcStatus ?? status) } : {}),
          ...extra,
        },
        flow: t.location.startsWith('url') ? flowWithoutUrl(obs.flow, obs.endpoint) : obs.flow,
      });
    };
    for (const t of tokens) {
      const alg = t.jwt.header['alg'];
      if (typeof alg === 'string' && alg.trim().toLowerCase() === 'none') {
        add('alg-none', accepted ? 'CRITICAL' : 'HIGH',
          `A JWT with alg "${alg.slice(0, 16)}" (unsigned) was presented${accepted ? ' and accepted' : ''}`, t);
      }
      const exp = t.jwt.payload['exp'];
      if (accepted && typeof exp === 'number' && Number.isFinite(exp) && exp * 1000 < obs.nowMs - this.#config.expiryLeewayMs) {
        const agoSeconds = Math.round((obs.nowMs - exp * 1000) / 1000);
        add('expired-accepted', 'HIGH', `A JWT that expired ${agoSeconds} s before the request was accepted`, t,
          { expiredAt: new Date(exp * 1000).toISOString(), expiredSecondsAgo: String(agoSeconds) });
      }
      if (t.location.startsWith('url')) add('jwt-in-url', 'MEDIUM', 'A JWT was sent in the URL', t);
    }
    return findings.length > 0 ? findings : undefined;
  }

  #tokens(obs: Observation): TokenSighting[] {
    const out: TokenSighting[] = [];
    const request = obs.exchange.request;
    const q = request.target.indexOf('?');
    if (q >= 0) this.#find(percentDecode(this.#bounded(request.target.slice(q + 1)), true), 'url', out);
    for (const [name, value] of request.headers) {
      if (TOKEN_HEADER_LENGTHS[name.length] !== true) continue; // see lengthsOf
      const lower = name.toLowerCase();
      if (lower === 'authorization' || lower === 'cookie' || lower === 'x-access-token' || lower === 'x-auth-token') {
        this.#find(this.#bounded(value), `header:${lower}`, out);
      }
    }
    return out;
  }

  #find(text: string, location: string, out: TokenSighting[]): void {
    if (text.indexOf('ey') < 0) return;
    const matcher = this.#pattern.matcher(text);
    for (let n = 0; n < MAX_TOKENS_PER_FIELD && matcher.find(); n++) {
      const token = matcher.group(0) ?? '';
      let jwt = this.#decoded.get(token);
      if (jwt === undefined) {
        jwt = decodeJwt(token) ?? null;
        this.#decoded.set(token, jwt);
      }
      if (jwt) out.push({ token, location, jwt });
    }
  }

  #bounded(text: string): string {
    return text.length > this.#config.maxFieldBytes ? text.slice(0, this.#config.maxFieldBytes) : text;
  }
}
