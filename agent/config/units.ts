// Duration ("30s", "5m", "24h", "1h30m") and size ("64KiB", "1MiB", "512") strings used in
// the config file. Parsers return undefined on bad input so the validator can name the key.

const durationUnitsMs: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Milliseconds for "250ms", "30s", "5m", "24h", "7d" or combinations ("1h30m"); undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, , unit] of trimmed.matchAll(/(\d+(\.\d+)?)(ms|s|m|h|d)/g)) {
    total += Number(amount) * durationUnitsMs[unit!]!;
  }
  return Math.round(total);
}

/** An exact rendering: 86400000 → "24h", 90000 → "1m30s", 604800000 → "7d" (days from 2d up). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let text = '';
  const units = ms % durationUnitsMs.d! === 0 && ms >= 2 * durationUnitsMs.d! ? (['d'] as const) : (['h', 'm', 's', 'ms'] as const);
  for (const unit of units) {
    const size = durationUnitsMs[unit]!;
    const count = Math.floor(rest / size);
    if (count > 0) {
      text += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return text;
}

const sizeUnits: Record<string, number> = {
  '': 1,
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
};

/** Bytes for 512, "512", "64KiB", "1MiB", "10MB"; undefined when malformed or fractional bytes. */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(value.trim());
  if (!m) return undefined;
  const unit = sizeUnits[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Number(m[1]) * unit;
  return Number.isInteger(bytes) ? bytes : undefined;
}

/** 65536 → "64KiB", 1000 → "1000". */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
