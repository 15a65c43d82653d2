// The bounded building blocks behind per-source state, text decoding, and
// detector settings read from the config file.
import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../../../../agent/bounded-map.js';
import { RecentSet } from '../../../../agent/detect/source/recent-set.js';
import { RingCounter } from '../../../../agent/detect/source/ring-counter.js';
import { sequentialShare } from '../../../../agent/detect/source/enumeration-detector.js';
import { contentConfigFromSettings } from '../../../../agent/detect/content/index.js';
import { jsonUnescape, percentDecode, percentVariants } from '../../../../agent/detect/content/text-decoding.js';
import { sourceConfigFromSettings } from '../../../../agent/detect/source/index.js';

describe('BoundedMap', () => {
  it('evicts the least recently touched key past its cap and counts it', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    map.get('a');
    map.set('c', 3);
    expect([...map.keys()]).toEqual(['a', 'c']);
    expect(map.evictions).toBe(1);
  });
});

describe('RingCounter', () => {
  it('sums events of the window and forgets older buckets', () => {
    const counter = new RingCounter(60_000, 12);
    counter.add(0);
    counter.add(30_000, 2);
    counter.add(59_999);
    expect(counter.total(59_999)).toBe(4);
    expect(counter.total(64_000)).toBe(3);
    expect(counter.total(200_000)).toBe(0);
    counter.add(200_000);
    expect(counter.total(200_000)).toBe(1);
  });
});

describe('RecentSet', () => {
  it('counts distinct values seen within the window, refreshing repeats', () => {
    const set = new RecentSet(1_000, 100);
    expect(set.add('a', 0)).toBe(true);
    expect(set.add('b', 500)).toBe(true);
    expect(set.add('a', 900)).toBe(false);
    expect(set.count(1_200)).toBe(2);
    expect(set.count(1_600)).toBe(1);
    expect(set.count(2_000)).toBe(0);
  });

  it('never holds more than its cap', () => {
    const set = new RecentSet(1_000, 3);
    for (let i = 0; i < 10; i++) set.add(String(i), i);
    expect(set.count(10)).toBe(3);
    expect(set.evictions).toBe(7);
  });
});

describe('sequentialShare', () => {
  it('is 1 for a consecutive walk and low for scattered ids', () => {
    expect(sequentialShare(['5', '6', '7', '8'])).toBe(1);
    expect(sequentialShare(['5', '60', '700', '8000'])).toBe(0);
    expect(sequentialShare(['a', 'b'])).toBe(0);
  });
});

describe('text decoding', () => {
  it('percent-decodes once per call, leaves malformed escapes, and lists distinct decodings', () => {
    expect(percentDecode('a%20b+c%2', true)).toBe('a b c%2');
    expect(percentDecode('%zz%4', false)).toBe('%zz%4');
    expect(percentVariants('%252e%252e', false).map((v) => [v.decoding, v.text])).toEqual([
      ['raw', '%252e%252e'], ['percent-decoded', '%2e%2e'], ['double-decoded', '..'],
    ]);
    expect(percentVariants('plain', false)).toHaveLength(1);
  });

  it('unescapes JSON string escapes without throwing on truncated ones', () => {
    expect(jsonUnescape('a\\u0027b\\/c\\"d\\u00')).toBe('a\'b/c"d\\u00');
  });
});

describe('detector settings from the config file', () => {
  it('maps knobs by name (window → windowMs, factorOverBaseline → baselineFactor) and ignores unknown or mistyped ones', () => {
    expect(sourceConfigFromSettings({
      scan: { enabled: false, window: 10_000, minDistinctPaths: 5, bogus: 3 },
      authFailureBurst: { enabled: true, factorOverBaseline: 8, minFailures: true },
    })).toEqual({ scan: { enabled: false, windowMs: 10_000, minDistinctPaths: 5 }, enumeration: {}, authFailureBurst: { enabled: true, baselineFactor: 8 } });
    expect(contentConfigFromSettings({ sensitiveData: { enabled: true, maxFieldBytes: 4096 }, injection: { maxFieldBytes: 2048 } })).toEqual({
      injection: { maxFieldBytes: 2048 }, sensitiveData: { enabled: true, maxUrlBytes: 4096, maxBodyBytes: 4096 }, jwtWeakness: {},
    });
  });
});
