import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Harness, seeded, T0 } from './engine-harness.js';

/** 60 s learn + 20 s detect of normal traffic: ~20 req/s, 1 % errors, ~10 ms latency. */
function normal(h: Harness, seconds: number, random: () => number): void {
  h.run(seconds, () => 15 + Math.floor(random() * 10), () => ({
    path: `/api/orders/${Math.floor(random() * 1000)}`,
    status: random() < 0.01 ? 503 : 200,
    latencyMs: 7 + random() * 6,
  }));
}

function firstEmitted(h: Harness, kind: string): number | undefined {
  const a = h.emitted.find((x) => x.kind === kind);
  return a ? Date.parse(a.firstSeen) : undefined;
}

describe('RATE_SPIKE', () => {
  it('fires within two seconds when an edge and its endpoint jump tenfold', () => {
    const h = new Harness();
    const random = seeded(1);
    normal(h, 80, random);
    expect(h.emitted).toEqual([]);
    const spikeAt = h.nowMs;
    h.run(5, () => 220, () => ({ path: '/api/orders/1' }));
    const rate = h.engine.anomalies({ kind: 'RATE_SPIKE' });
    expect(rate.map((a) => a.endpoint ?? 'edge').sort()).toEqual(['GET /api/orders/{id}', 'edge']);
    expect(firstEmitted(h, 'RATE_SPIKE')! - spikeAt).toBeLessThanOrEqual(2000);
    expect(rate[0]!.details).toHaveProperty('baselineMedian');
    expect(rate[0]!.summary).toMatch(/requests in the last window, usually/);
  });

  it('keeps firing through a small dip (hysteresis) and closes after the quiet period', () => {
    const h = new Harness({ config: { engine: { quietMs: 5000 } } });
    const random = seeded(2);
    normal(h, 70, random);
    h.run(3, () => 200);
    const id = h.engine.anomalies({ kind: 'RATE_SPIKE' })[0]!.id;
    // Threshold is at least 3 × ~20 = 60/s; 55/s is below it but above 80 % of it.
    h.run(5, () => 55);
    expect(h.engine.anomalies({ kind: 'RATE_SPIKE', state: 'OPEN' }).map((a) => a.id)).toContain(id);
    normal(h, 12, random);
    const closed = h.emitted.filter((a) => a.id === id && a.state === 'CLOSED');
    expect(closed).toHaveLength(1);
    expect(h.engine.anomalies({ state: 'OPEN' })).toEqual([]);
  });

  it('never fires on low-volume edges, however much they vary', () => {
    const h = new Harness();
    h.run(70, (s) => (s % 3 === 0 ? 1 : 0));
    h.run(10, () => 12);
    expect(h.emitted).toEqual([]);
  });
});

describe('ERROR_SPIKE', () => {
  it('fires when half the requests fail on an edge that used to fail 1 %', () => {
    const h = new Harness();
    const random = seeded(3);
    normal(h, 80, random);
    const at = h.nowMs;
    h.run(3, () => 20, (_s, n) => ({ status: n % 2 === 0 ? 503 : 200 }));
    expect(h.kinds()).toEqual(['ERROR_SPIKE']);
    expect(firstEmitted(h, 'ERROR_SPIKE')! - at).toBeLessThanOrEqual(2000);
    expect(h.emitted[0]!.summary).toMatch(/% of requests failing, usually/);
  });

  it('counts gRPC server failures as errors', () => {
    const h = new Harness();
    h.run(80, () => 20, () => ({ grpc: { service: 'shop.Orders', method: 'Get', status: 0 } }));
    h.run(3, () => 20, () => ({ grpc: { service: 'shop.Orders', method: 'Get', status: 14 } }));
    expect(h.kinds()).toEqual(['ERROR_SPIKE']);
    expect(h.engine.anomalies().map((a) => a.endpoint ?? 'edge').sort()).toEqual(['edge', 'shop.Orders/Get']);
  });
});

describe('LATENCY_SPIKE', () => {
  it('fires when the median latency goes from ~10 ms to 300 ms', () => {
    const h = new Harness();
    const random = seeded(4);
    normal(h, 80, random);
    h.run(3, () => 20, () => ({ latencyMs: 300 + random() * 50 }));
    expect(h.kinds()).toEqual(['LATENCY_SPIKE']);
    expect(h.emitted[0]!.details!.observed).toMatch(/ms$/);
  });

  it('does not fire on a single slow request', () => {
    const h = new Harness();
    const random = seeded(5);
    normal(h, 80, random);
    h.send({ latencyMs: 5000 });
    normal(h, 10, random);
    expect(h.emitted).toEqual([]);
  });
});

describe('spike detectors on normal variation', () => {
  it('raise nothing over a detect phase of normal traffic (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 5, max: 200 }), // base rate per second
        fc.double({ min: 0, max: 0.5, noNaN: true }), // rate jitter (± fraction)
        fc.double({ min: 0, max: 0.03, noNaN: true }), // error ratio
        fc.double({ min: 1, max: 200, noNaN: true }), // base latency
        fc.integer({ min: 1, max: 2 ** 31 }),
        (rate, jitter, errorRatio, latency, seed) => {
          const random = seeded(seed);
          const h = new Harness();
          h.run(120, () => Math.max(0, Math.round(rate * (1 + jitter * (2 * random() - 1)))), () => ({
            path: `/api/items/${Math.floor(random() * 100)}`,
            status: random() < errorRatio ? 500 : 200,
            latencyMs: latency * (0.7 + 0.6 * random()),
            responseBytes: Math.floor(500 + random() * 1500),
          }));
          expect(h.emitted).toEqual([]);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('are quiet while learning, whatever the traffic does', () => {
    const h = new Harness({ baseline: { learnWindowMs: 3_600_000 } });
    h.run(30, () => 10);
    h.run(5, () => 400, () => ({ status: 500, latencyMs: 900 }));
    expect(h.emitted).toEqual([]);
    expect(h.nowMs).toBe(T0 + 35_000);
  });
});

describe('RATE_SPIKE on periodic bursts', () => {
  it('a batch job bursting every 10 s is normal; a burst three times its peak is not', () => {
    const h = new Harness();
    const burst = (s: number): number => (s % 10 === 0 ? 100 : 1);
    h.run(120, burst);
    expect(h.emitted).toEqual([]);
    h.run(2, () => 400);
    expect(h.kinds()).toEqual(['RATE_SPIKE']);
  });

  it('without the peak floor, median and MAD alone would flag every burst', () => {
    const h = new Harness({ config: { rateSpike: { peakRatio: 0 } } });
    h.run(120, (s) => (s % 10 === 0 ? 100 : 1));
    expect(h.kinds()).toEqual(['RATE_SPIKE']);
  });
});
