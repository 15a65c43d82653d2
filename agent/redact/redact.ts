// Secrets never leave the pipeline in clear. Sensitive query parameter values
// are replaced by a short keyed fingerprint: equal secrets still correlate,
// but the fingerprint reveals nothing without the agent's per-run key.
import { createHmac, randomBytes } from 'node:crypto';

const SENSITIVE_PARAM = /^(?:access[_-]?token|id[_-]?token|refresh[_-]?token|token|api[_-]?key|apikey|key|secret|client[_-]?secret|password|passwd|pwd|auth|authorization|session|sessionid|sid|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|code)$/i;

/** Field names of decoded messages whose values are secrets (camelCase and snake_case alike). */
const SENSITIVE_FIELD = /^(?:access_?token|id_?token|refresh_?token|token|api_?key|apikey|secret|client_?secret|password|passwd|pwd|authorization|credentials?|private_?key|session_?id|cookie|ssn|card_?number|cvv)$/i;

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

  /**
   * A decoded message (JSON text) with the values of sensitive fields
   * (password, token, apiKey, …, at any depth) replaced by fingerprints.
   * Text that is not JSON is returned unchanged.
   */
  jsonText(text: string): string {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return text;
    }
    let changed = false;
    const walk = (node: unknown, depth: number): unknown => {
      if (depth > 64 || node === null || typeof node !== 'object') return node;
      if (Array.isArray(node)) return node.map((item) => walk(item, depth + 1));
      const out: Record<string, unknown> = {};
      for (const [name, field] of Object.entries(node)) {
        if (SENSITIVE_FIELD.test(name) && field !== null && typeof field !== 'object') {
          changed = true;
          out[name] = `REDACTED-${this.fingerprint(String(field))}`;
        } else {
          out[name] = walk(field, depth + 1);
        }
      }
      return out;
    };
    const redacted = walk(value, 0);
    return changed ? JSON.stringify(redacted) : text;
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
