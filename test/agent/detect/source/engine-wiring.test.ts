// The content and per-source detectors inside the anomaly engine: after a
// learn window of normal traffic, each attack becomes an Anomaly of its kind,
// and the learn window itself raises none of these kinds.
import { describe, expect, it } from 'vitest';
import { Baseline } from '../../../../agent/baseline/baseline.js';
import { createContentDetectors } from '../../../../agent/detect/content/index.js';
import { AnomalyEngine } from '../../../../agent/detect/engine.js';
import { createSourceDetectors } from '../../../../agent/detect/source/index.js';
import type { Anomaly } from '../../../../agent/schema/flow.js';
import { ObservationFactory, type ExchangeOptions, type HttpRequestSpec, type HttpResponseSpec } from '../content/http-observations.js';

const MINE = new Set(['INJECTION', 'SENSITIVE_DATA', 'JWT_WEAKNESS', 'SCAN', 'ENUMERATION', 'AUTH_FAILURE_BURST']);

describe('content and per-source detectors in the anomaly engine', () => {
  it('turns each attack into an anomaly of its kind after a quiet learn window', () => {
    let now = Date.parse('2026-11-23T12:00:00Z');
    const baseline = new Baseline({ learnWindowMs: 60_000, windowMs: 1000, now: () => now });
    const engine = new AnomalyEngine({ baseline, now: () => now, detectors: [...createContentDetectors(), ...createSourceDetectors()] });
    const emitted: Anomaly[] = [];
    engine.onAnomaly((a) => emitted.push(a));
    const factory = new ObservationFactory();
    const send = (request: HttpRequestSpec, response: HttpResponseSpec, options: ExchangeOptions = {}): void => {
      const obs = factory.observe(request, response, { workload: 'web', nowMs: now, ...options });
      engine.observe(obs.flow, obs.exchange);
    };

    for (let s = 0; s < 70; s++) {
      send({ target: `/api/v1/users/${s % 3}` }, { status: 200, body: '{"id":1}' });
      send({ target: '/api/v1/search?q=%22exact+phrase%22' }, { status: 200 });
      now += 1000;
      engine.tick(now);
    }
    expect(emitted.filter((a) => MINE.has(a.kind))).toEqual([]);

    send({ target: "/api/v1/search?q=1'%20UNION%20SELECT%20NULL,version()--" }, { status: 200 });
    send({ target: '/api/v1/users/1' }, { status: 200, body: '{"card":"4111 1111 1111 1111"}' });
    send({ target: '/api/v1/me', headers: { Authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.' } }, { status: 200 }, { tls: true });
    for (let i = 0; i < 25; i++) send({ target: `/admin-${i}.php` }, { status: 404 }, { workload: 'scanner', nowMs: now + i * 50 });
    for (let i = 0; i < 30; i++) send({ target: `/api/v1/users/${100 + i}` }, { status: 200 }, { workload: 'walker', nowMs: now + i * 50 });
    for (let i = 0; i < 10; i++) send({ method: 'POST', target: '/api/v1/login' }, { status: 401 }, { workload: 'stuffer', nowMs: now + i * 50 });
    now += 2000;
    engine.tick(now);

    const kinds = [...new Set(emitted.filter((a) => MINE.has(a.kind)).map((a) => a.kind))].sort();
    expect(kinds).toEqual([...MINE].sort());
    expect(engine.counters.detectorErrors).toBe(0);
    const scan = emitted.find((a) => a.kind === 'SCAN')!;
    expect(scan).toMatchObject({ state: 'OPEN', mitreTechnique: 'T1046', source: { workload: 'scanner' } });
  });
});
