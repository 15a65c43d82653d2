// Secrets never leave the pipeline in clear. Sensitive query parameter values
// are replaced by a short keyed fingerprint: equal secrets still correlate,
// but the fingerprint reveals nothing without the agent's per-run key.
import { createHmac, randomBytes } from 'node:crypto';

const SENSITIVE_PARAM = /^(?:access[_-]?token|id[_-]?token|refresh[_-]?token|token|api[_-]?key|apikey|key|secret|client[_-]?secret|password|passwd|pwd|auth|authorization|session|sessionid|sid|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|code)$/i;

export class Redactor {
  readonly #key: Buffer;

  constructor(key: Buffer = randomBytes(32)) {
    this.#key = key;
  }

  /** The fingerprint key; a recording keeps it so a replay fingerprints alike. */
  get key(): Buffer {
    return this.#key;
  }

  fingerprint(secret: string): string {
    return createHmac('sha256', this.#key).update(secret).digest('hex').slice(0, 8);
  }

  /** The request target with sensitive query values replaced. Untouched when nothing matches. */
  target(target: string): string {
    const q = target.indexOf('?');
    if (q < 0) return target;
    const query = target.slice(q + 1);
    let changed = false;
    const parts = query.split('&').map((part) => {
      const eq = part.indexOf('=');
      if (eq <= 0) return part;
      let name = part.slice(0, eq);
      try {
        name = decodeURIComponent(name);
      } catch {
        // Malformed escapes: match on the raw name.
      }
      if (!SENSITIVE_PARAM.test(name) || eq === part.length - 1) return part;
      changed = true;
      return `${part.slice(0, eq)}=REDACTED-${this.fingerprint(part.slice(eq + 1))}`;
    });
    return changed ? `${target.slice(0, q)}?${parts.join('&')}` : target;
  }
}
