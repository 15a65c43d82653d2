// What every network transport shares: the outcome of sending one batch, the
// error that says whether to try again, and the backoff between tries.

export interface SendResult {
  /** Records the receiver refused for good (bad request, mapping error): counted, not retried. */
  rejected: number;
  /** Records to send again after a backoff (per-item 429s of a bulk request). */
  retry?: Buffer[];
}

export interface Transport {
  /** Resolves once the receiver has taken the batch; throws DeliveryError otherwise. */
  send(records: Buffer[]): Promise<SendResult>;
  readonly connected: boolean;
  close(): Promise<void>;
}

export class DeliveryError extends Error {
  constructor(
    message: string,
    /** False when sending the same batch again cannot succeed (401, 400, 413…). */
    readonly retryable: boolean,
    /** The receiver's Retry-After, when it gave one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** Retry-After is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** A receiver asking for more than this is treated as asking for this. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

/**
 * Exponential backoff with full jitter: a random delay in [base/2, cap] where
 * the cap doubles per attempt up to maxMs, so many agents do not retry in step.
 * A Retry-After from the receiver wins.
 */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, retryAfterMs?: number, random = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
  const cap = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + random() * (cap / 2));
}
