// @ts-check
// Short human forms for the page (pure).

/** @param {number | undefined} ms */
export function formatMs(ms) {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 10) return `${ms.toFixed(1).replace(/\.0$/, '')}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(2)}s`;
}

/** @param {number} rps */
export function formatRate(rps) {
  if (rps === 0) return '0/s';
  if (rps < 1) return `${rps.toFixed(2)}/s`;
  if (rps < 100) return `${rps.toFixed(1).replace(/\.0$/, '')}/s`;
  return `${Math.round(rps)}/s`;
}

/** @param {number} errors @param {number} requests */
export function formatErrorRate(errors, requests) {
  if (requests === 0) return '0%';
  const pct = (100 * errors) / requests;
  return `${pct < 10 && pct > 0 ? pct.toFixed(1) : Math.round(pct)}%`;
}

/** "2026-11-23T10:00:01.123456789Z" → "10:00:01.123" @param {string} rfc3339 */
export function formatClock(rfc3339) {
  const m = /T(\d\d:\d\d:\d\d)(\.\d{1,3})?/.exec(rfc3339);
  return m ? `${m[1]}${m[2] ?? ''}` : rfc3339;
}
