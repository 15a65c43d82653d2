// Waiting on conditions, never on fixed sleeps.

/**
 * Polls `probe` until it returns a value other than undefined/false.
 * @template T
 * @param {string} what
 * @param {() => T | undefined | false | Promise<T | undefined | false>} probe
 * @returns {Promise<T>}
 */
export async function waitFor(what, probe, timeoutMs = 15_000, intervalMs = 25) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
