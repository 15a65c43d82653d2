// Kernel timestamps are CLOCK_MONOTONIC nanoseconds; flows carry wall-clock
// RFC 3339 times. process.hrtime reads the same monotonic clock, so one offset
// measured at start converts between them (re-measured on demand after a
// wall-clock step).
import { performance } from 'node:perf_hooks';

export class MonotonicClock {
  #wallMinusMonoNs = 0;

  constructor() {
    this.resync();
  }

  resync(): void {
    const mono = Number(process.hrtime.bigint());
    const wallNs = (performance.timeOrigin + performance.now()) * 1e6;
    this.#wallMinusMonoNs = wallNs - mono;
  }

  /** Current monotonic ns, comparable with kernel timestamps. */
  static nowNs(): number {
    return Number(process.hrtime.bigint());
  }

  /** RFC 3339 with nanosecond digits, UTC. */
  rfc3339(monoNs: number): string {
    const wallNs = monoNs + this.#wallMinusMonoNs;
    const ms = Math.floor(wallNs / 1e6);
    const subMs = Math.max(0, Math.min(999_999, Math.round(wallNs - ms * 1e6)));
    const iso = new Date(ms).toISOString(); // 2026-11-23T09:00:00.123Z
    return `${iso.slice(0, 23)}${String(subMs).padStart(6, '0')}Z`;
  }
}
