// Flow times as wall-clock ms. Every flow carries the RFC 3339 text the clock
// writes (agent/flows/clock.ts rfc3339: `2026-11-23T09:00:00.123456789Z`), and
// detection needs it as a number for every flow. Date.parse on that text costs
// more than the rest of the observation; flows arrive in bursts within one
// second, so the date-and-second prefix is parsed once and the milliseconds
// read from the fraction digits. Any other shape goes to Date.parse, so the
// result is always what Date.parse gives (which truncates to whole ms).

/** Length of `YYYY-MM-DDTHH:MM:SS.`, the part shared by every flow of one second. */
const PREFIX_LENGTH = 20;
/** Length of the clock's shape: the prefix, nine fraction digits and `Z`. */
const CLOCK_SHAPE_LENGTH = 30;
/** Character codes the prefix must hold at each position; 0 stands for a digit. */
const PREFIX_SHAPE = [0, 0, 0, 0, 45, 0, 0, 45, 0, 0, 84, 0, 0, 58, 0, 0, 58, 0, 0, 46]; // YYYY-MM-DDTHH:MM:SS.

/** The prefix's digits as one number (YYYYMMDDHHMMSS), and its Date.parse value. */
let cachedKey = -1;
let cachedKeyMs = 0;

/** Date.parse(time), fast for the shape the flow clock writes. */
export function flowTimeMs(time: string): number {
  if (time.length !== CLOCK_SHAPE_LENGTH || time.charCodeAt(CLOCK_SHAPE_LENGTH - 1) !== 90 /* Z */) return Date.parse(time);
  let key = 0;
  for (let i = 0; i < PREFIX_LENGTH; i++) {
    const c = time.charCodeAt(i);
    const want = PREFIX_SHAPE[i]!;
    if (want !== 0) {
      if (c !== want) return Date.parse(time);
    } else {
      if (c < 48 || c > 57) return Date.parse(time);
      key = key * 10 + (c - 48);
    }
  }
  let ms = 0;
  for (let i = PREFIX_LENGTH; i < CLOCK_SHAPE_LENGTH - 1; i++) {
    const digit = time.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Date.parse(time);
    if (i < PREFIX_LENGTH + 3) ms = ms * 10 + digit;
  }
  if (key !== cachedKey) {
    // Hour 24 is left to Date.parse: it takes `T24:00:00.000` but not `T24:00:00.5`,
    // so only for hours 00–23 does the prefix's value hold for every fraction.
    const hour = Math.floor(key / 10_000) % 100;
    const prefixMs = hour < 24 ? Date.parse(`${time.slice(0, PREFIX_LENGTH)}000Z`) : NaN;
    if (!Number.isFinite(prefixMs)) return Date.parse(time);
    cachedKey = key;
    cachedKeyMs = prefixMs;
  }
  return cachedKeyMs + ms;
}
