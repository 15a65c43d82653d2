// Kernel timestamps are CLOCK_MONOTONIC nanoseconds; flows carry wall-clock
// RFC 3339 times. process.hrtime reads the same monotonic clock, so one offset
// measured at start converts between them (re-measured on demand after a
// wall-clock step).
import { performance } from 'node:perf_hooks';

export class MonotonicClock {
  #wallMinusMonoNs = 0;
  /** "YYYY-MM-DDTHH:MM:SS." of the last second formatted: flows arrive in bursts within one second. */
  #cachedSecond = -1;
  #cachedPrefix = '';

  /** `wallMinusMonoNs` fixes the offset (replaying a recording); otherwise it is measured now. */
  constructor(wallMinusMonoNs?: number) {
    if (wallMinusMonoNs === undefined) this.resync();
    else this.#wallMinusMonoNs = wallMinusMonoNs;
  }

  get wallMinusMonoNs(): number {
    return this.#wallMinusMonoNs;
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
    const second = Math.floor(wallNs / 1e9);
    if (second !== this.#cachedSecond) {
      this.#cachedSecond = second;
      this.#cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20); // 2026-11-23T09:00:00.
    }
    const fraction = Math.max(0, Math.min(999_999_999, Math.round(wallNs - second * 1e9)));
    return `${this.#cachedPrefix}${String(fraction).padStart(9, '0')}Z`;
  }
}
