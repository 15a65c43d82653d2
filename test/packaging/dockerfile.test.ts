// packaging/Dockerfile cannot be built here (no docker): these checks hold it to the
// repository it builds from, to the libraries its artefacts really link, and run its
// node_modules trimming step on copies of the real modules.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../agent/config/schema.js';
import { paths } from '../../agent/paths.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(join(root, 'packaging/Dockerfile'), 'utf8');
const dockerignore = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

interface Instruction { op: string; args: string }
interface Stage { from: string; name: string; instructions: Instruction[] }

/** Instructions with line continuations joined and comments dropped, grouped by stage. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) pending += `${line.slice(0, -1)} `;
    else {
      const joined = (pending + line).trim();
      pending = '';
      if (joined) logical.push(joined);
    }
  }
  const stages: Stage[] = [];
  // ARGs before the first FROM name the base images; FROM resolves them to their defaults.
  const globalArgs = new Map<string, string>();
  for (const line of logical) {
    const [, op, args] = /^(\S+)\s+(.*)$/s.exec(line)!;
    if (op!.toUpperCase() === 'ARG' && stages.length === 0) {
      const [key, value] = args!.split('=', 2);
      globalArgs.set(key!, value ?? '');
    } else if (op!.toUpperCase() === 'FROM') {
      const [, from, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args!)!;
      const resolved = from!.replace(/\$\{(\w+)\}/g, (_, key: string) => globalArgs.get(key) ?? '');
      stages.push({ from: resolved, name: name ?? String(stages.length), instructions: [] });
    } else {
      stages.at(-1)!.instructions.push({ op: op!.toUpperCase(), args: args! });
    }
  }
  return stages;
}

const stages = parseDockerfile(dockerfile);
const build = stages.find((s) => s.name === 'build')!;
const runtime = stages.at(-1)!;
const all = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op);
const aptPackages = (stage: Stage) =>
  all(stage, 'RUN').flatMap((i) => /apt-get install -y --no-install-recommends ([^&]+)/.exec(i.args)?.[1]!.trim().split(/\s+/) ?? []);

/** The Debian package holding a library; dpkg knows it under /lib or /usr/lib (merged /usr). */
function owningPackage(path: string): string {
  const real = realpathSync(path);
  const candidates = [path, real, ...[path, real].map((p) => (p.startsWith('/usr/') ? p.slice(4) : `/usr${p}`))];
  for (const candidate of candidates) {
    try {
      return execFileSync('dpkg', ['-S', candidate], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(':')[0]!;
    } catch {
      // Not registered under this spelling of the path.
    }
  }
  throw new Error(`no Debian package owns ${path}`);
}

describe('packaging/Dockerfile', () => {
  it('has a build stage on Debian bookworm with Node 20 and a slim runtime stage', () => {
    expect(stages.map((s) => [s.from, s.name])).toEqual([
      ['node:20-bookworm', 'build'], ['node:20-bookworm-slim', 'node-binary'], ['debian:bookworm-slim', 'runtime'],
    ]);
    expect(aptPackages(build)).toEqual(expect.arrayContaining(['clang', 'libbpf-dev', 'bpftool', 'libelf-dev', 'make']));
    expect(all(runtime, 'COPY').map((c) => c.args)).toEqual([
      '--from=node-binary /usr/local/bin/node /usr/local/bin/node',
      '--from=build /out/opt/flowscope /opt/flowscope',
    ]);
  });

  it('copies only sources that exist in the repository and are not in .dockerignore', () => {
    const sources = all(build, 'COPY').flatMap((c) => c.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect(existsSync(join(root, source)), source).toBe(true);
      expect(dockerignore.some((pattern) => source.replace(/\/$/, '') === pattern || source.startsWith(`${pattern}/`)), source).toBe(false);
    }
  });

  it('puts the eBPF object and the loader where the agent looks for them', () => {
    const layout = all(build, 'RUN').map((i) => i.args).find((a) => a.includes('/out/opt/flowscope'))!;
    for (const artefact of [paths.bpfObject, paths.nativeLibrary]) {
      const rel = relative(root, artefact);
      expect(layout).toContain(`cp ${rel} /out/opt/flowscope/${rel.slice(0, rel.lastIndexOf('/'))}/`);
    }
    expect(layout).toMatch(/cp -r dist bin node_modules package\.json \/out\/opt\/flowscope\//);
    // The agent finds its package root by package.json next to an agent/ folder.
    expect(layout).toContain('/out/opt/flowscope/agent');
    expect(all(runtime, 'ENTRYPOINT')[0]!.args).toBe('["node", "/opt/flowscope/bin/flowscope.js"]');
    expect(existsSync(join(root, 'bin/flowscope.js'))).toBe(true);
  });

  it('installs in the runtime every shared library the native artefacts need', () => {
    const libraries = [paths.nativeLibrary, join(root, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')];
    const needed = new Set<string>();
    for (const file of libraries) {
      for (const line of execFileSync('ldd', [file], { encoding: 'utf8' }).split('\n')) {
        const m = /=>\s+(\/\S+)/.exec(line);
        if (m) needed.add(owningPackage(m[1]!));
      }
    }
    // Essential in every Debian image, debian:bookworm-slim included.
    const inBase = new Set(['libc6', 'libgcc-s1']);
    const installed = new Set(aptPackages(runtime));
    expect([...needed].filter((pkg) => !inBase.has(pkg) && !installed.has(pkg))).toEqual([]);
    expect([...needed]).toEqual(expect.arrayContaining(['libbpf1', 'libelf1', 'zlib1g']));
  });

  it('runs as root without privilege, and says why non-root cannot load eBPF', () => {
    expect(all(runtime, 'USER').map((i) => i.args)).toEqual(['0:0']);
    expect(dockerfile).toMatch(/no ambient capabilities/);
    expect(dockerfile).not.toMatch(/--privileged/);
  });

  it('exposes the agent port and checks /healthz on it', () => {
    const port = configSchema.stream.listen.default.split(':').at(-1);
    expect(all(runtime, 'EXPOSE').map((i) => i.args)).toEqual([port]);
    const healthcheck = all(runtime, 'HEALTHCHECK')[0]!.args;
    expect(healthcheck).toContain(`http://127.0.0.1:${port}/healthz`);
    expect(healthcheck).toMatch(/--interval=\d+s --timeout=\d+s/);
  });
});

describe('the image’s node_modules trimming step', () => {
  const work = mkdtempSync(join(tmpdir(), 'flowscope-trim-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('keeps koffi and better-sqlite3 working while removing what only builds need', () => {
    for (const pkg of ['koffi', 'better-sqlite3', 'bindings', 'file-uri-to-path']) {
      if (existsSync(join(root, 'node_modules', pkg))) cpSync(join(root, 'node_modules', pkg), join(work, 'node_modules', pkg), { recursive: true });
    }
    const trim = all(build, 'RUN').map((i) => i.args).find((a) => a.includes('koffi_platform'))!;
    const script = trim.replaceAll('cd /src', `cd ${work}`);
    const before = Number(execFileSync('du', ['-sb', join(work, 'node_modules')], { encoding: 'utf8' }).split('\t')[0]);
    execFileSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: work, stdio: 'pipe' });
    const after = Number(execFileSync('du', ['-sb', join(work, 'node_modules')], { encoding: 'utf8' }).split('\t')[0]);
    expect(after).toBeLessThan(before / 5);
    const check = "const D = require('better-sqlite3'); const d = new D(':memory:'); console.log(d.prepare('select 41 + 1 as x').get().x, typeof require('koffi').load)";
    expect(execFileSync(process.execPath, ['-e', check], { cwd: work, encoding: 'utf8' }).trim()).toBe('42 function');
  });
});
