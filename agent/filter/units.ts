// Durations as people type them: 250us, 100ms, 1.5s, 5m, 2h (a bare number is ms).
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
}

/** Short human form of a duration in nanoseconds: 850µs, 12ms, 1.4s. */
export function formatDurationNs(ns: number): string {
  if (ns < 1e6) return `${Math.round(ns / 1e3)}µs`;
  if (ns < 1e9) return `${ns < 1e7 ? (ns / 1e6).toFixed(1).replace(/\.0$/, '') : Math.round(ns / 1e6)}ms`;
  return `${(ns / 1e9).toFixed(ns < 1e10 ? 2 : 1)}s`;
}
