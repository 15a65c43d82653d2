// What SENSITIVE_DATA looks for. Patterns are RE2 (linear time); candidates
// that a pattern alone would over-match (card numbers, SSNs) are confirmed by
// a check in code (Luhn and issuer prefix; SSA number ranges).

export type SensitiveDataType =
  | 'credit-card' | 'us-ssn' | 'private-key' | 'aws-access-key-id' | 'aws-secret-access-key'
  | 'gcp-service-account-key' | 'azure-connection-string' | 'github-token' | 'slack-token' | 'stripe-secret-key'
  | 'token-field' | 'credential-in-url' | 'bearer-token-plaintext' | 'basic-credentials-plaintext' | 'api-key-plaintext';

export interface SensitiveDataRule {
  type: SensitiveDataType;
  pattern: string;
  severity: 'MEDIUM' | 'HIGH' | 'CRITICAL';
  /** A confirmation of the matched text beyond the pattern. */
  validate?: (match: string) => boolean;
}

export const SENSITIVE_DATA_RULES: readonly SensitiveDataRule[] = [
  { type: 'credit-card', severity: 'HIGH', pattern: String.raw`\b(?:\d[ -]?){12,18}\d\b`, validate: isPaymentCardNumber },
  { type: 'us-ssn', severity: 'HIGH', pattern: String.raw`\b\d{3}-\d{2}-\d{4}\b`, validate: isPlausibleSsn },
  { type: 'private-key', severity: 'CRITICAL', pattern: String.raw`-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----` },
  { type: 'aws-access-key-id', severity: 'HIGH', pattern: String.raw`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b` },
  { type: 'aws-secret-access-key', severity: 'CRITICAL',
    pattern: String.raw`(?i)(?:aws_?)?secret_?access_?key["']?\s*[:=]\s*["']?[A-Za-z0-9/+]{40}\b` },
  { type: 'gcp-service-account-key', severity: 'CRITICAL',
    pattern: String.raw`"type"\s*:\s*"service_account"|"private_key_id"\s*:\s*"[0-9a-f]{40}"` },
  { type: 'azure-connection-string', severity: 'CRITICAL',
    pattern: String.raw`(?i)AccountName=[^;\s]+;\s*AccountKey=[A-Za-z0-9+/=]{40,}|SharedAccessKeyName=[^;\s]+;\s*SharedAccessKey=[A-Za-z0-9+/=]{20,}` },
  { type: 'github-token', severity: 'HIGH', pattern: String.raw`\bgh[pousr]_[A-Za-z0-9]{36}\b` },
  { type: 'slack-token', severity: 'HIGH', pattern: String.raw`\bxox[abprs]-[A-Za-z0-9-]{10,}` },
  { type: 'stripe-secret-key', severity: 'HIGH', pattern: String.raw`\b[sr]k_live_[A-Za-z0-9]{20,}` },
  { type: 'token-field', severity: 'MEDIUM',
    pattern: String.raw`(?i)"(?:access_token|id_token|refresh_token|api_key|apikey|client_secret|secret_key|password)"\s*:\s*"[^"\s]{12,}"` },
];

/** Query parameter names whose values are credentials. */
export const CREDENTIAL_PARAM_NAMES: ReadonlySet<string> = new Set([
  'access_token', 'accesstoken', 'id_token', 'refresh_token', 'token', 'api_key', 'apikey', 'api-key', 'key', 'secret',
  'client_secret', 'password', 'passwd', 'pwd', 'auth', 'authorization', 'x-amz-security-token', 'private_token',
]);

/** Request headers that carry an API key (lower case). */
export const API_KEY_HEADERS: ReadonlySet<string> = new Set(['x-api-key', 'api-key', 'apikey', 'x-auth-token', 'x-access-token', 'private-token']);

/** 13–19 digits (separators allowed) with a known issuer prefix and a valid Luhn check digit. */
export function isPaymentCardNumber(text: string): boolean {
  const digits = text.replace(/[ -]/g, '');
  if (digits.length < 13 || digits.length > 19 || /^(\d)\1+$/.test(digits)) return false;
  if (!hasIssuerPrefix(digits)) return false;
  return luhnValid(digits);
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function hasIssuerPrefix(d: string): boolean {
  const two = Number(d.slice(0, 2));
  const four = Number(d.slice(0, 4));
  const n = d.length;
  if (d[0] === '4') return n === 13 || n === 16 || n === 19; // Visa
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return n === 16; // Mastercard
  if (two === 34 || two === 37) return n === 15; // American Express
  if (two === 36 || two === 38 || (four >= 3000 && four <= 3059)) return n === 14; // Diners Club
  if (d.startsWith('6011') || two === 65 || (Number(d.slice(0, 3)) >= 644 && Number(d.slice(0, 3)) <= 649)) return n >= 16; // Discover
  if (four >= 3528 && four <= 3589) return n >= 16; // JCB
  if (two === 62) return n >= 16; // UnionPay
  return false;
}

/** An SSN as the SSA issues them: area not 000, 666 or 9xx; group not 00; serial not 0000; not a published sample. */
export function isPlausibleSsn(text: string): boolean {
  const [area, group, serial] = text.split('-');
  if (!area || !group || !serial) return false;
  if (area === '000' || area === '666' || area[0] === '9') return false;
  if (group === '00' || serial === '0000') return false;
  return text !== '078-05-1120' && text !== '219-09-9999';
}
