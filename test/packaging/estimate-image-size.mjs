#!/usr/bin/env node
// Estimates the runtime image size from its parts, since docker is not available here:
// production node_modules (pruned and trimmed exactly as packaging/Dockerfile does, in a temp
// copy), dist/, the eBPF object, the loader, and this host's node binary as a stand-in for the
// one copied from node:20-bookworm-slim. The debian:bookworm-slim base and the three apt
// libraries cannot be measured offline: their sizes are the published figures, marked as such.
//   node test/packaging/estimate-image-size.mjs
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const MB = 1e6;
const du = (path) => Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);

const work = mkdtempSync(join(tmpdir(), 'flowscope-image-size-'));
try {
  for (const f of ['package.json', 'package-lock.json', 'node_modules']) cpSync(join(root, f), join(work, f), { recursive: true });
  execFileSync('npm', ['prune', '--omit=dev', '--offline', '--no-audit', '--no-fund'], { cwd: work, stdio: 'ignore' });
  const pruned = du(join(work, 'node_modules'));
  const dockerfile = readFileSync(join(root, 'packaging/Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const trim = /^RUN (koffi_platform=.*)$/m.exec(dockerfile)[1].replaceAll('cd /src', `cd ${work}`);
  execFileSync('bash', ['-euo', 'pipefail', '-c', trim], { cwd: work, stdio: 'ignore' });
  const parts = [
    ['debian:bookworm-slim base (published, uncompressed)', 74.8 * MB],
    ['libbpf1 + libelf1 (Debian installed sizes)', (0.4 + 1.0) * MB],
    ['node binary (this host\'s node 20)', statSync(realpathSync(process.execPath)).size],
    ['node_modules, production, trimmed', du(join(work, 'node_modules'))],
    ['dist/', du(join(root, 'dist'))],
    ['bpf/build/flowscope.bpf.o', du(join(root, 'bpf/build/flowscope.bpf.o'))],
    ['native/build/libflowscope.so', du(join(root, 'native/build/libflowscope.so'))],
  ];
  for (const [what, bytes] of parts) console.log(`${(bytes / MB).toFixed(1).padStart(7)} MB  ${what}`);
  const total = parts.reduce((sum, [, bytes]) => sum + bytes, 0);
  const ours = parts.slice(1).reduce((sum, [, bytes]) => sum + bytes, 0);
  console.log(`${(total / MB).toFixed(1).padStart(7)} MB  runtime image, uncompressed (target <= 250 MB)`);
  console.log(`${(ours / MB).toFixed(1).padStart(7)} MB  of it above the base image`);
  console.log(`(production node_modules before trimming: ${(pruned / MB).toFixed(1)} MB)`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
