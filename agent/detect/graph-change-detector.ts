// NEW_EDGE, NEW_ENDPOINT, NEW_PROTOCOL and PLAINTEXT: the flow's place in the
// graph is not in the baseline. A route is (source, destination, port); the
// edges on one route differ by protocol and TLS, so a known route with an
// unknown protocol is NEW_PROTOCOL, a route learnt over TLS now carrying
// plaintext is PLAINTEXT, and a route never learnt at all is NEW_EDGE.
import type { Baseline, BaselineLookup, EdgeStats } from '../baseline/baseline.js';
import type { Finding, Observation } from './finding.js';
import { describeEdge, type BaselineDetector } from './baseline-detector.js';
import type { GraphChangeConfig } from './detector-config.js';

/** The call got a real answer: HTTP below 400, or gRPC OK. */
function answered(obs: Observation): boolean {
  const grpc = obs.flow.grpc?.status;
  if (grpc !== undefined) return grpc === 0;
  const status = obs.flow.http.status;
  return status !== undefined && status < 400;
}

/** Texts about one edge, made once rather than for every flow an unlearnt edge carries. */
interface EdgeTexts {
  /** describeEdge of the edge. */
  edge: string;
  /** The endpoint last seen on the edge, and the NEW_EDGE summary naming it. */
  endpoint: string;
  newEdgeSummary: string;
}

export class GraphChangeDetector implements BaselineDetector {
  readonly name = 'graph-change';
  /** New endpoints reported one by one, per edge (bounded by newEndpointsPerEdge each). */
  readonly #reported = new WeakMap<EdgeStats, Set<string>>();
  readonly #texts = new WeakMap<EdgeStats, EdgeTexts>();

  constructor(readonly config: GraphChangeConfig) {}

  observe(obs: Observation, lookup: BaselineLookup, baseline: Baseline): Finding[] | undefined {
    if (obs.learning) return undefined;
    const findings: Finding[] = [];
    const edgeKnown = lookup.edge?.baselined === true;
    const texts = this.#textsOf(lookup);
    const edgeText = texts?.edge ?? describeEdge(lookup);
    if (!edgeKnown) {
      const learnt = baseline.routeEdges(lookup).filter((e) => e.baselined);
      if (learnt.length === 0) {
        if (this.config.newEdge) {
          findings.push({
            kind: 'NEW_EDGE',
            severity: lookup.destination.kind === 'external' || lookup.source.kind === 'external' ? 'HIGH' : 'MEDIUM',
            subject: 'edge',
            endpoint: obs.endpoint,
            summary: texts ? this.#newEdgeSummary(texts, lookup, obs.endpoint) : newEdgeSummary(lookup, obs.endpoint),
            mitreTechnique: 'T1021',
            details: { edge: edgeText, endpoint: obs.endpoint },
            flow: obs.flow,
          });
        }
      } else {
        const sameProtocol = learnt.filter((e) => e.protocol === lookup.protocol);
        if (this.config.newProtocol && sameProtocol.length === 0) {
          const was = [...new Set(learnt.map((e) => e.protocol))].join(', ');
          findings.push({
            kind: 'NEW_PROTOCOL',
            severity: 'MEDIUM',
            subject: `protocol ${lookup.protocol}`,
            endpoint: obs.endpoint,
            summary: `${lookup.source.id} → ${lookup.destination.id} :${lookup.port} now speaks ${lookup.protocol}; the baseline only has ${was}`,
            details: { edge: edgeText, protocol: lookup.protocol, baselineProtocols: was },
            flow: obs.flow,
          });
        }
        if (this.config.plaintext && !lookup.tls && learnt.every((e) => e.tls)) {
          findings.push({
            kind: 'PLAINTEXT',
            severity: 'HIGH',
            subject: 'plaintext',
            endpoint: obs.endpoint,
            summary: `${lookup.source.id} → ${lookup.destination.id} :${lookup.port} sent ${obs.endpoint} in plaintext; in the baseline this route was always TLS`,
            mitreTechnique: 'T1040',
            details: { edge: edgeText, baselineTls: 'true' },
            flow: obs.flow,
          });
        }
      }
    } else if (this.config.newEndpoint && lookup.endpoint?.baselined !== true && (!this.config.newEndpointRequiresSuccess || answered(obs))) {
      findings.push(this.#newEndpoint(obs, lookup, edgeText));
    }
    if (
      this.config.plaintextInternalHttp && !lookup.tls &&
      lookup.source.kind !== 'external' && lookup.destination.kind !== 'external' &&
      !findings.some((f) => f.kind === 'PLAINTEXT')
    ) {
      findings.push({
        kind: 'PLAINTEXT',
        severity: 'LOW',
        subject: 'internal-plaintext',
        endpoint: obs.endpoint,
        summary: `${lookup.source.id} → ${lookup.destination.id} :${lookup.port} carries internal ${lookup.protocol} in plaintext`,
        mitreTechnique: 'T1040',
        details: { edge: edgeText, rule: 'plaintextInternalHttp' },
        flow: obs.flow,
      });
    }
    return findings.length > 0 ? findings : undefined;
  }

  /** The edge's texts; undefined before the edge exists (its first flow). */
  #textsOf(lookup: BaselineLookup): EdgeTexts | undefined {
    const edge = lookup.edge;
    if (!edge) return undefined;
    let texts = this.#texts.get(edge);
    if (!texts) this.#texts.set(edge, (texts = { edge: describeEdge(lookup), endpoint: '', newEdgeSummary: '' }));
    return texts;
  }

  #newEdgeSummary(texts: EdgeTexts, lookup: BaselineLookup, endpoint: string): string {
    if (texts.endpoint !== endpoint || texts.newEdgeSummary === '') {
      texts.endpoint = endpoint;
      texts.newEdgeSummary = newEdgeSummary(lookup, endpoint);
    }
    return texts.newEdgeSummary;
  }

  #newEndpoint(obs: Observation, lookup: BaselineLookup, edgeText: string): Finding {
    const edge = lookup.edge!;
    let reported = this.#reported.get(edge);
    if (!reported) this.#reported.set(edge, (reported = new Set()));
    const name = lookup.endpointName;
    if (!reported.has(name) && reported.size < this.config.newEndpointsPerEdge) reported.add(name);
    const many = !reported.has(name);
    return {
      kind: 'NEW_ENDPOINT',
      severity: 'LOW',
      // Past the per-edge budget, further new endpoints share one anomaly instead of flooding.
      subject: many ? 'endpoint (many)' : `endpoint ${name}`,
      endpoint: name,
      summary: many
        ? `${lookup.source.id} is calling many endpoints never seen on ${lookup.destination.id} (more than ${this.config.newEndpointsPerEdge}); latest ${name}`
        : `${lookup.source.id} called ${name} on ${lookup.destination.id}, an endpoint never seen on this edge while learning`,
      details: { edge: edgeText, endpoint: name, knownEndpoints: String(edge.endpoints.size) },
      flow: obs.flow,
    };
  }
}

function newEdgeSummary(lookup: BaselineLookup, endpoint: string): string {
  return `${lookup.source.id} called ${lookup.destination.id} on port ${lookup.port}, a connection never seen while learning (${endpoint})`;
}
