import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAD_TO_SIGMA, median, robustSummary, SeasonHistory, seasonOf, upperBound, WindowMetric, WindowSeries } from '../../../agent/baseline/robust-stats.js';

describe('robust statistics', () => {
  it('median and MAD of known values', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([NaN, 2, NaN])).toBe(2);
    expect(median([])).toBeNaN();
    const s = robustSummary([1, 1, 2, 2, 4, 6, 9]);
    expect(s.median).toBe(2);
    expect(s.mad).toBe(1);
    expect(s.samples).toBe(7);
  });

  it('a few huge outliers do not move the median or the MAD far (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 90, max: 110, noNaN: true }), { minLength: 40, maxLength: 100 }), fc.integer({ min: 1, max: 4 }), (normal, outliers) => {
        const clean = robustSummary(normal);
        const dirty = robustSummary([...normal, ...new Array<number>(outliers).fill(1e9)]);
        expect(Math.abs(dirty.median - clean.median)).toBeLessThanOrEqual(20);
        expect(dirty.mad).toBeLessThanOrEqual(20);
      }),
    );
  });

  it('the upper bound never sits below minRatio × median nor median + minDelta', () => {
    expect(upperBound({ median: 100, mad: 0, samples: 20 }, 6, 3, 20)).toBe(300);
    expect(upperBound({ median: 2, mad: 0, samples: 20 }, 6, 3, 20)).toBe(22);
    expect(upperBound({ median: 100, mad: 50, samples: 20 }, 6, 1, 0)).toBeCloseTo(100 + 6 * MAD_TO_SIGMA * 50);
  });

  it('seasons are hours of the week, Monday 00:00 UTC first, or a single season', () => {
    expect(seasonOf(Date.parse('2026-11-23T00:30:00Z'), 'hour-of-week')).toBe(0); // a Monday
    expect(seasonOf(Date.parse('2026-11-29T23:59:00Z'), 'hour-of-week')).toBe(167);
    expect(seasonOf(Date.parse('2026-11-25T10:00:00Z'), 'none')).toBe(0);
  });

  it('a full history keeps a uniform sample of every window it was offered', () => {
    const history = new SeasonHistory(100);
    let state = 1;
    const random = (): number => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 10_000; i++) history.add(i, 0, 0, random);
    expect(history.length).toBe(100);
    expect(history.seen).toBe(10_000);
    const m = history.summary(WindowMetric.Requests).median;
    expect(m).toBeGreaterThan(3000);
    expect(m).toBeLessThan(7000);
  });
});

describe('WindowSeries', () => {
  const options = { windowMs: 1000, historyCapacity: 16, seasonality: 'none' as const };

  it('closes windows into the history and counts empty windows as zero requests', () => {
    const series = new WindowSeries(options);
    const t0 = 1_000_000;
    for (let i = 0; i < 10; i++) series.add(t0 + i * 10, i === 0, 5 + i);
    series.add(t0 + 3500, false, 7); // two empty windows in between
    const h = series.historyFor(t0)!;
    expect(h.length).toBe(3);
    expect([...h.values.slice(0, 3)]).toEqual([10, Math.fround(0.1), 9.5]);
    expect(h.values[3]).toBe(0);
    expect(h.values[4]).toBeNaN();
    expect(series.requests).toBe(1);
    expect(series.previousRequests).toBe(0);
  });

  it('keeps a flagged window out of the history', () => {
    const series = new WindowSeries(options);
    series.add(5000, false, 1);
    series.flagged = true;
    series.add(6000, false, 1);
    expect(series.historyFor(5000)).toBeUndefined();
    series.add(7000, false, 1);
    expect(series.historyFor(5000)!.length).toBe(1);
  });

  it('slides the request count across a window boundary', () => {
    const series = new WindowSeries(options);
    for (let i = 0; i < 100; i++) series.add(10_000 + i * 10, false, 1);
    series.add(11_000, false, 1);
    expect(series.slidingRequests(11_250)).toBeCloseTo(1 + 100 * 0.75);
  });

  it('round-trips its history through bytes and ignores malformed bytes', () => {
    const series = new WindowSeries({ ...options, seasonality: 'hour-of-week' });
    for (let i = 0; i < 50; i++) series.add(Date.parse('2026-11-23T00:00:00Z') + i * 600, i % 7 === 0, i);
    const bytes = series.historyBytes();
    const back = new WindowSeries({ ...options, seasonality: 'hour-of-week' });
    back.loadHistory(bytes);
    const filled = (w: WindowSeries): number[] => w.seasons.flatMap((h, season) => (h ? [season] : []));
    expect(filled(back)).toEqual(filled(series));
    expect(filled(series).length).toBeGreaterThan(0);
    for (const season of filled(series)) {
      const h = series.seasons[season]!;
      expect([...back.seasons[season]!.values.subarray(0, h.length * 3)]).toEqual([...h.values.subarray(0, h.length * 3)]);
      expect(back.seasons[season]!.length).toBe(h.length);
    }
    const broken = new WindowSeries(options);
    broken.loadHistory(bytes.slice(0, 20));
    broken.loadHistory(new Uint8Array([255, 255, 255, 255, 0, 0, 0, 0, 1, 0, 0, 0]));
    expect(broken.seasons.filter(Boolean)).toHaveLength(0);
  });
});
