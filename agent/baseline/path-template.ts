// Templated endpoints: `/users/123/orders/9f86d081…` → `/users/{id}/orders/{hash}`,
// so one endpoint stands for every value of its parameters. Configured route
// patterns win over the heuristic.

export interface TemplatedPath {
  /** The path with parameter segments replaced by `{name}`. */
  template: string;
  /** The values the placeholders stood for, in order. */
  params: string[];
}

/** A configured route, e.g. `/api/orders/:orderId` or `/files/{name}/*`. */
export interface RoutePattern {
  readonly pattern: string;
  readonly segments: readonly (string | { param: string } | { rest: true })[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DIGITS = /^\d+$/;
const HEX = /^[0-9a-f]+$/i;
const TOKEN = /^[A-Za-z0-9_\-+=.~%]+$/;
const MAX_SEGMENTS = 32;

export function compileRoute(pattern: string): RoutePattern {
  const segments = splitPath(pattern).map((s) => {
    if (s === '*') return { rest: true as const };
    const m = /^(?::(\w+)|\{(\w+)\})$/.exec(s);
    return m ? { param: (m[1] ?? m[2])! } : s;
  });
  return { pattern, segments };
}

/** The templated form of a request path (query and fragment dropped). */
export function templatePath(target: string, routes: readonly RoutePattern[] = []): TemplatedPath {
  const path = target.split(/[?#]/, 1)[0]!;
  const segments = splitPath(path);
  for (const route of routes) {
    const matched = matchRoute(route, segments);
    if (matched) return matched;
  }
  const params: string[] = [];
  const out = segments.slice(0, MAX_SEGMENTS).map((segment) => {
    const name = parameterKind(segment);
    if (!name) return segment;
    params.push(segment);
    return `{${name}}`;
  });
  if (segments.length > MAX_SEGMENTS) out.push('{rest}');
  return { template: `/${out.join('/')}`, params };
}

/** What kind of parameter a path segment looks like, if it looks like one. */
export function parameterKind(segment: string): string | undefined {
  if (DIGITS.test(segment)) return 'id';
  if (UUID.test(segment)) return 'uuid';
  if (segment.length >= 16 && HEX.test(segment)) return 'hash';
  if (segment.length >= 16 && TOKEN.test(segment) && /\d/.test(segment) && /[A-Za-z]/.test(segment)) return 'token';
  // Short ids mixing letters and digits (a1b2c3d4, 5f3e…): at least half digits.
  if (segment.length >= 6 && /^[A-Za-z0-9]+$/.test(segment) && countDigits(segment) * 2 >= segment.length) return 'id';
  return undefined;
}

function matchRoute(route: RoutePattern, segments: string[]): TemplatedPath | undefined {
  const params: string[] = [];
  const out: string[] = [];
  for (let i = 0; i < route.segments.length; i++) {
    const want = route.segments[i]!;
    if (typeof want === 'object' && 'rest' in want) {
      params.push(segments.slice(i).join('/'));
      out.push('*');
      return { template: `/${out.join('/')}`, params };
    }
    const got = segments[i];
    if (got === undefined) return undefined;
    if (typeof want === 'string') {
      if (want !== got) return undefined;
      out.push(got);
    } else {
      params.push(got);
      out.push(`{${want.param}}`);
    }
  }
  return segments.length === route.segments.length ? { template: `/${out.join('/')}`, params } : undefined;
}

function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function countDigits(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) n++;
  return n;
}
