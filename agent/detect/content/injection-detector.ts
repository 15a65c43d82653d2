// INJECTION (T1190): the request line (path and query, raw and percent-decoded
// once and twice), header values and the captured body prefix are matched
// against the rule set in one RE2 pass per field. One finding per rule family
// per request; the subject is the family.
import { RE2JS, RE2Set } from 're2js';
import { headerValue } from '../../../decoders/message.js';
import type { Detector, Finding, Observation } from '../finding.js';
import { redactedExcerpt } from './excerpt.js';
import { INJECTION_FAMILIES, INJECTION_RULES, type FieldClass, type InjectionFamily, type InjectionRule } from './injection-rules.js';
import { bodyText, jsonUnescape, percentDecode, percentVariants, type DecodedVariant } from './text-decoding.js';
import { TextVerdicts } from './verdict-cache.js';

export interface InjectionConfig {
  enabled: boolean;
  /** Families to look for. */
  families: InjectionFamily[];
  /** Rule ids (see injection-rules.ts) switched off. */
  disabledRules: string[];
  /** Longest path, query or header value matched; longer ones are cut (and counted). */
  maxFieldBytes: number;
  /** Longest body prefix matched. */
  maxBodyBytes: number;
  /** Header values never matched (lower case): credentials and framing. */
  skipHeaders: string[];
}

export const defaultInjectionConfig: InjectionConfig = {
  enabled: true,
  families: [...INJECTION_FAMILIES],
  disabledRules: [],
  maxFieldBytes: 4096,
  maxBodyBytes: 8192,
  skipHeaders: [
    'authorization', 'proxy-authorization', 'host', ':authority', ':scheme', ':method', ':path', 'content-length',
    'content-type', 'content-encoding', 'accept-encoding', 'connection', 'te', 'grpc-timeout', 'grpc-encoding',
    'grpc-accept-encoding',
  ],
};

const SEVERITY: Record<InjectionFamily, Finding['severity']> = {
  sqli: 'HIGH', command: 'CRITICAL', 'path-traversal': 'HIGH', ssrf: 'HIGH', template: 'HIGH', log4shell: 'CRITICAL',
};
const FAMILY_NAME: Record<InjectionFamily, string> = {
  sqli: 'SQL injection', command: 'command injection', 'path-traversal': 'path traversal', ssrf: 'server-side request forgery',
  template: 'template injection', log4shell: 'Log4Shell (JNDI lookup)',
};
const MAX_HEADERS = 64;

interface CompiledField {
  set: RE2Set;
  /** Rule for each index the set reports. */
  rules: InjectionRule[];
  /** What the set matched in values seen before (paths and header values repeat). */
  verdicts: TextVerdicts<number[]>;
}

interface Hit {
  rule: InjectionRule;
  field: string;
  variant: DecodedVariant;
}

export interface InjectionCounters {
  requests: number;
  /** Fields cut to the size limit before matching. */
  truncatedFields: number;
  /** Fields the matcher failed on (skipped, never thrown). */
  matchErrors: number;
  findings: number;
}

export class InjectionDetector implements Detector {
  readonly name = 'injection';
  readonly counters: InjectionCounters = { requests: 0, truncatedFields: 0, matchErrors: 0, findings: 0 };
  readonly #config: InjectionConfig;
  readonly #fields: Record<FieldClass, CompiledField>;
  readonly #single = new Map<string, RE2JS>();
  readonly #skipHeaders: Set<string>;
  readonly #hits = new Map<InjectionFamily, Hit[]>();

  constructor(config: Partial<InjectionConfig> = {}) {
    this.#config = { ...defaultInjectionConfig, ...config };
    this.#skipHeaders = new Set(this.#config.skipHeaders.map((h) => h.toLowerCase()));
    const families = new Set(this.#config.families);
    const disabled = new Set(this.#config.disabledRules);
    const active = INJECTION_RULES.filter((r) => families.has(r.family) && !disabled.has(r.id));
    const compile = (field: FieldClass): CompiledField => {
      const set = new RE2Set(RE2Set.UNANCHORED, RE2JS.CASE_INSENSITIVE);
      const rules = active.filter((r) => r.fields.includes(field));
      for (const rule of rules) set.add(rule.pattern);
      if (rules.length > 0) set.compile();
      return { set, rules, verdicts: new TextVerdicts<number[]>() };
    };
    this.#fields = { path: compile('path'), query: compile('query'), header: compile('header'), body: compile('body') };
    for (const rule of active) this.#single.set(rule.id, RE2JS.compile(rule.pattern, RE2JS.CASE_INSENSITIVE));
  }

  observe(obs: Observation): Finding[] | undefined {
    this.counters.requests++;
    const request = obs.exchange.request;
    // One map reused for every request (most have no hit), emptied once findings are made. An empty
    // map is not cleared again: Map.clear allocates a new table even when there is nothing to drop.
    const hits = this.#hits;
    if (hits.size !== 0) hits.clear();

    const target = this.#bounded(request.target);
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    this.#match('path', 'path', percentVariants(path, false), hits);
    if (q >= 0) this.#match('query', 'query', percentVariants(target.slice(q + 1), true), hits);

    const headers = request.headers;
    for (let i = 0; i < headers.length && i < MAX_HEADERS; i++) {
      const [name, value] = headers[i]!;
      const lower = name.toLowerCase();
      if (this.#skipHeaders.has(lower) || value.length === 0) continue;
      this.#match('header', `header:${lower}`, percentVariants(this.#bounded(value), false), hits);
    }

    if (request.body && request.body.length > 0) {
      const raw = bodyText(request.body, this.#config.maxBodyBytes);
      if (request.body.length > this.#config.maxBodyBytes) this.counters.truncatedFields++;
      const contentType = (headerValue(headers, 'content-type') ?? '').toLowerCase();
      const variants: DecodedVariant[] = [{ text: raw, decoding: 'raw' }];
      if (contentType.includes('x-www-form-urlencoded')) {
        const decoded = percentDecode(raw, true);
        if (decoded !== raw) variants.push({ text: decoded, decoding: 'percent-decoded' });
      } else if (contentType.includes('json')) {
        const unescaped = jsonUnescape(raw);
        if (unescaped !== raw) variants.push({ text: unescaped, decoding: 'json-unescaped' });
      }
      this.#match('body', 'body', variants, hits);
    }

    if (hits.size === 0) return undefined;
    const findings: Finding[] = [];
    for (const [family, familyHits] of hits) findings.push(this.#finding(obs, family, familyHits));
    hits.clear();
    this.counters.findings += findings.length;
    return findings;
  }

  #bounded(text: string): string {
    if (text.length <= this.#config.maxFieldBytes) return text;
    this.counters.truncatedFields++;
    return text.slice(0, this.#config.maxFieldBytes);
  }

  #match(fieldClass: FieldClass, field: string, variants: DecodedVariant[], hits: Map<InjectionFamily, Hit[]>): void {
    const compiled = this.#fields[fieldClass];
    if (compiled.rules.length === 0) return;
    for (const variant of variants) {
      let matched = compiled.verdicts.get(variant.text);
      if (matched === undefined) {
        try {
          matched = compiled.set.match(variant.text);
        } catch {
          this.counters.matchErrors++;
          continue;
        }
        compiled.verdicts.set(variant.text, matched);
      }
      for (const index of matched) {
        const rule = compiled.rules[index]!;
        const familyHits = hits.get(rule.family) ?? [];
        if (familyHits.some((h) => h.rule.id === rule.id)) continue;
        familyHits.push({ rule, field, variant });
        hits.set(rule.family, familyHits);
      }
    }
  }

  #finding(obs: Observation, family: InjectionFamily, hits: Hit[]): Finding {
    const first = hits[0]!;
    const matcher = this.#single.get(first.rule.id)!.matcher(first.variant.text);
    const excerpt = matcher.find() ? redactedExcerpt(first.variant.text, matcher.start(), matcher.end()) : '';
    const status = obs.flow.grpc?.status ?? obs.flow.http.status;
    return {
      kind: 'INJECTION',
      severity: SEVERITY[family],
      subject: family,
      endpoint: obs.endpoint,
      summary: `${FAMILY_NAME[family]} payload in the ${first.field} of ${obs.endpoint} (rule ${first.rule.id}${first.variant.decoding === 'raw' ? '' : `, ${first.variant.decoding}`})`,
      mitreTechnique: 'T1190',
      details: {
        rule: first.rule.id,
        field: first.field,
        decoding: first.variant.decoding,
        excerpt,
        matchedRules: hits.map((h) => `${h.rule.id}@${h.field}`).slice(0, 8).join(','),
        ...(status !== undefined ? { responseStatus: String(status) } : {}),
      },
      flow: obs.flow,
    };
  }
}
