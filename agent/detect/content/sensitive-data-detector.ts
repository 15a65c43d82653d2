// SENSITIVE_DATA: card numbers, national ids, private keys, cloud credentials
// and tokens in URLs, in plaintext requests and in bodies, firing only where
// the baseline never had them. While learning, each (edge, endpoint, data
// type, location) seen is remembered; afterwards a type never seen there
// fires. Location is part of the key because a card number in a payment
// request is normal where the same number in a response is a leak.
import { RE2JS, RE2Set } from 're2js';
import { headerValue, type HeaderField } from '../../../decoders/message.js';
import type { Detector, Finding, Observation } from '../finding.js';
import { BoundedMap } from '../../bounded-map.js';
import { edgeKey } from '../source/source-identity.js';
import { flowWithoutUrl, maskSecret } from './excerpt.js';
import { lengthsOf } from './header-lookup.js';
import {
  API_KEY_HEADERS, CREDENTIAL_PARAM_NAMES, SENSITIVE_DATA_RULES, type SensitiveDataRule, type SensitiveDataType,
} from './sensitive-data-rules.js';
import { bodyText, percentDecode } from './text-decoding.js';
import { BodyVerdicts, TextVerdicts } from './verdict-cache.js';

export interface SensitiveDataConfig {
  enabled: boolean;
  /** Data types switched off. */
  disabledTypes: SensitiveDataType[];
  /** Body prefix scanned, per direction. */
  maxBodyBytes: number;
  maxUrlBytes: number;
  /** Remembered (edge, endpoint, type, location) combinations; the least recent go first. */
  maxBaselineKeys: number;
  /** Scan response bodies (data leaving a service). */
  scanResponses: boolean;
}

export const defaultSensitiveDataConfig: SensitiveDataConfig = {
  enabled: true,
  disabledTypes: [],
  maxBodyBytes: 16_384,
  maxUrlBytes: 4096,
  maxBaselineKeys: 200_000,
  scanResponses: true,
};

export interface Sighting {
  type: SensitiveDataType;
  severity: Finding['severity'];
  location: string;
  /** Character offset within the scanned location. */
  position: number;
  masked: string;
}

export interface SensitiveDataCounters {
  /** Bodies not scanned because they were compressed. */
  encodedBodies: number;
  /** Texts the matcher failed on (skipped, never thrown). */
  matchErrors: number;
  findings: number;
}

/** What the rules found in one text, wherever that text sat. */
type TextSighting = Omit<Sighting, 'location'>;

const MAX_CANDIDATES = 32;
const NOTHING: readonly TextSighting[] = [];
/** Lengths of the header names #plaintextCredentials looks at. */
const CREDENTIAL_HEADER_LENGTHS = lengthsOf(['authorization', 'proxy-authorization', ...API_KEY_HEADERS]);

export class SensitiveDataDetector implements Detector {
  readonly name = 'sensitive-data';
  readonly counters: SensitiveDataCounters = { encodedBodies: 0, matchErrors: 0, findings: 0 };
  readonly #config: SensitiveDataConfig;
  readonly #rules: SensitiveDataRule[];
  readonly #set: RE2Set;
  readonly #single: RE2JS[];
  readonly #disabled: Set<SensitiveDataType>;
  /** (edge, endpoint, type@location) seen while learning. */
  readonly #baseline: BoundedMap<string, true>;
  /** What the rules found in URLs and bodies seen before. */
  readonly #urlVerdicts = new TextVerdicts<readonly TextSighting[]>();
  readonly #bodyVerdicts = new BodyVerdicts<readonly TextSighting[]>();

  constructor(config: Partial<SensitiveDataConfig> = {}) {
    this.#config = { ...defaultSensitiveDataConfig, ...config };
    this.#disabled = new Set(this.#config.disabledTypes);
    this.#rules = SENSITIVE_DATA_RULES.filter((r) => !this.#disabled.has(r.type));
    this.#set = new RE2Set(RE2Set.UNANCHORED, 0);
    for (const rule of this.#rules) this.#set.add(rule.pattern);
    if (this.#rules.length > 0) this.#set.compile();
    this.#single = this.#rules.map((r) => RE2JS.compile(r.pattern));
    this.#baseline = new BoundedMap(this.#config.maxBaselineKeys);
  }

  get evictedBaselineKeys(): number {
    return this.#baseline.evictions;
  }

  observe(obs: Observation): Finding[] | undefined {
    const sightings = this.scan(obs);
    if (sightings.length === 0) return undefined;
    const edge = edgeKey(obs.flow);
    let findings: Finding[] | undefined;
    const reported = new Set<string>();
    for (const s of sightings) {
      const key = `${edge} ${obs.endpoint} ${s.type}@${s.location}`;
      if (obs.learning) {
        this.#baseline.set(key, true);
        continue;
      }
      if (this.#baseline.get(key) || reported.has(key)) continue;
      reported.add(key);
      (findings ??= []).push(this.#finding(obs, s));
    }
    if (findings) this.counters.findings += findings.length;
    return findings;
  }

  /** Every kind of sensitive data in the exchange, with where it was. */
  scan(obs: Observation): Sighting[] {
    const { request, response } = obs.exchange;
    const sightings: Sighting[] = [];
    const target = request.target.length > this.#config.maxUrlBytes ? request.target.slice(0, this.#config.maxUrlBytes) : request.target;
    const q = target.indexOf('?');
    const path = percentDecode(q < 0 ? target : target.slice(0, q), false);
    this.#scanText(q < 0 ? path : `${path}?${percentDecode(target.slice(q + 1), true)}`, 'url', sightings);
    if (q >= 0) this.#credentialParams(target.slice(q + 1), sightings);
    if (!obs.flow.tls) this.#plaintextCredentials(request.headers, sightings);
    if (request.body && request.body.length > 0) this.#scanBody(request.headers, request.body, 'request-body', sightings);
    if (this.#config.scanResponses && response?.body && response.body.length > 0) {
      this.#scanBody(response.headers, response.body, 'response-body', sightings);
    }
    return sightings;
  }

  #scanBody(headers: HeaderField[], body: Uint8Array, location: string, out: Sighting[]): void {
    const encoding = headerValue(headers, 'content-encoding');
    if (encoding && encoding.toLowerCase() !== 'identity') {
      this.counters.encodedBodies++;
      return;
    }
    const prefix = body.length > this.#config.maxBodyBytes ? body.subarray(0, this.#config.maxBodyBytes) : body;
    let found = this.#bodyVerdicts.get(prefix);
    if (found === undefined) {
      found = this.#match(bodyText(body, this.#config.maxBodyBytes));
      if (found) this.#bodyVerdicts.set(prefix, found);
    }
    if (found) located(found, location, out);
  }

  #scanText(text: string, location: string, out: Sighting[]): void {
    let found = this.#urlVerdicts.get(text);
    if (found === undefined) {
      found = this.#match(text);
      if (found) this.#urlVerdicts.set(text, found);
    }
    if (found) located(found, location, out);
  }

  /** Every rule's first valid match in the text; undefined when the matcher failed (counted). */
  #match(text: string): readonly TextSighting[] | undefined {
    if (this.#rules.length === 0) return NOTHING;
    let matched: number[];
    try {
      matched = this.#set.match(text);
    } catch {
      this.counters.matchErrors++;
      return undefined;
    }
    if (matched.length === 0) return NOTHING;
    const found: TextSighting[] = [];
    for (const index of matched) {
      const rule = this.#rules[index]!;
      const matcher = this.#single[index]!.matcher(text);
      for (let n = 0; n < MAX_CANDIDATES && matcher.find(); n++) {
        const candidate = matcher.group(0) ?? '';
        if (rule.validate && !rule.validate(candidate)) continue;
        found.push({ type: rule.type, severity: rule.severity, position: matcher.start(), masked: mask(rule.type, candidate) });
        break;
      }
    }
    return found;
  }

  #credentialParams(query: string, out: Sighting[]): void {
    if (this.#disabled.has('credential-in-url')) return;
    let position = 0;
    for (const part of query.split('&')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.length - eq - 1 >= 8) {
        const name = percentDecode(part.slice(0, eq), true).toLowerCase();
        if (CREDENTIAL_PARAM_NAMES.has(name)) {
          const value = percentDecode(part.slice(eq + 1), true);
          out.push({ type: 'credential-in-url', severity: 'HIGH', location: `url:${name}`, position, masked: maskSecret(value) });
        }
      }
      position += part.length + 1;
    }
  }

  #plaintextCredentials(headers: HeaderField[], out: Sighting[]): void {
    for (const [name, value] of headers) {
      if (CREDENTIAL_HEADER_LENGTHS[name.length] !== true) continue; // see lengthsOf
      const lower = name.toLowerCase();
      if (lower === 'authorization' || lower === 'proxy-authorization') {
        const space = value.indexOf(' ');
        const scheme = (space < 0 ? value : value.slice(0, space)).toLowerCase();
        const credential = space < 0 ? '' : value.slice(space + 1).trim();
        const type: SensitiveDataType | undefined = scheme === 'bearer' ? 'bearer-token-plaintext'
          : scheme === 'basic' ? 'basic-credentials-plaintext' : undefined;
        if (type && credential.length > 0 && !this.#disabled.has(type)) {
          out.push({ type, severity: 'MEDIUM', location: `header:${lower}`, position: 0, masked: maskSecret(credential) });
        }
      } else if (API_KEY_HEADERS.has(lower) && value.length >= 8 && !this.#disabled.has('api-key-plaintext')) {
        out.push({ type: 'api-key-plaintext', severity: 'MEDIUM', location: `header:${lower}`, position: 0, masked: maskSecret(value) });
      }
    }
  }

  #finding(obs: Observation, s: Sighting): Finding {
    const where = s.location.startsWith('header:') ? `the plaintext ${s.location.slice(7)} header`
      : s.location.startsWith('url') ? 'the URL' : `the ${s.location.replace('-', ' ')}`;
    return {
      kind: 'SENSITIVE_DATA',
      severity: s.severity,
      subject: `${s.type}@${s.location}`,
      endpoint: obs.endpoint,
      summary: `${s.type} (${s.masked}) in ${where} of ${obs.endpoint}${obs.flow.tls ? '' : ' over plaintext'}, never seen on this edge and endpoint in the baseline`,
      details: {
        dataType: s.type,
        location: s.location,
        position: String(s.position),
        masked: s.masked,
        tls: String(obs.flow.tls),
      },
      flow: s.location.startsWith('url') ? flowWithoutUrl(obs.flow, obs.endpoint) : obs.flow,
    };
  }
}

function located(found: readonly TextSighting[], location: string, out: Sighting[]): void {
  for (const s of found) out.push({ type: s.type, severity: s.severity, location, position: s.position, masked: s.masked });
}

/** The masked form a finding may show: never the secret itself. */
function mask(type: SensitiveDataType, found: string): string {
  switch (type) {
    case 'private-key': return found; // the PEM header line only, no key material
    case 'gcp-service-account-key': return 'service_account JSON';
    case 'azure-connection-string': return `${found.slice(0, found.indexOf('=') + 1)}…;****`;
    case 'aws-access-key-id': return `${found.slice(0, 4)}****${found.slice(-4)}`;
    case 'aws-secret-access-key':
    case 'token-field': {
      const sep = Math.max(found.lastIndexOf(':'), found.lastIndexOf('='));
      return `${found.slice(0, sep + 1).trim()} ${maskSecret(found.slice(sep + 1).replace(/["'\s]/g, ''))}`;
    }
    default: return maskSecret(found);
  }
}
