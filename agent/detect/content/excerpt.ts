// What a finding may show of the text that triggered it: short, printable,
// and with anything that looks like a credential cut down to a few characters.
import type { Flow } from '../../schema/flow.js';

const MAX_EXCERPT = 64;
const CONTEXT_BEFORE = 8;

/** A short printable excerpt around [start, end) with long token-like runs masked. */
export function redactedExcerpt(text: string, start: number, end: number): string {
  const from = Math.max(0, start - CONTEXT_BEFORE);
  const to = Math.min(text.length, end, from + MAX_EXCERPT);
  let out = '';
  let run = '';
  const flush = (): void => {
    out += run.length >= 16 ? `${run.slice(0, 4)}…` : run;
    run = '';
  };
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    const ch = c >= 0x20 && c < 0x7f ? text[i]! : '.';
    if (isTokenChar(c)) run += ch;
    else {
      flush();
      out += ch;
    }
  }
  flush();
  return (from > 0 ? '…' : '') + out + (to < end || to < text.length ? '…' : '');
}

/** `****1234`: enough to tell two secrets apart, never enough to use one. */
export function maskSecret(secret: string, visible = 4): string {
  const clean = secret.replace(/[\s-]/g, '');
  if (clean.length <= visible * 2) return '****';
  return `****${clean.slice(-visible)}`;
}

function isTokenChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 43 || c === 47 || c === 95 || c === 45 || c === 61;
}

/**
 * The flow to keep as evidence when the secret sat in its URL: the request
 * target becomes the templated path (parameters replaced by `{id}`, `{token}`…)
 * and the query is dropped, since the redactor only knows credential names.
 */
export function flowWithoutUrl(flow: Flow, endpoint: string): Flow {
  const space = endpoint.indexOf(' ');
  const templated = space >= 0 ? endpoint.slice(space + 1) : endpoint;
  const hadQuery = flow.http.path.includes('?');
  return { ...flow, http: { ...flow.http, path: hadQuery ? `${templated}?(query withheld)` : templated } };
}
