// packaging/image/: the size report's split of an image into base and runtime layers, and
// build.sh's stand-ins covering every base image packaging/Dockerfile names. The build itself
// (several minutes, root, the Debian mirror and the npm registry) is run by hand:
//   sudo bash packaging/image/build.sh
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'flowscope-image-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const MB = 1e6;
interface Entry { CreatedBy: string; size: number }

/** Runs layer-sizes.mjs on podman-shaped history (newest first) and layer lists. */
function layerSizes(base: Entry[], added: Entry[], options: { baseLayers?: string[]; imageLayers?: string[] } = {}) {
  const baseLayers = options.baseLayers ?? base.map((_, i) => `sha256:base${i}`);
  const imageLayers = options.imageLayers ?? [...baseLayers, ...added.filter((e) => e.size > 0).map((_, i) => `sha256:added${i}`)];
  const file = join(work, `sizes-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ base: [...base].reverse(), image: [...base, ...added].reverse(), baseLayers, imageLayers }));
  const run = spawnSync(process.execPath, [join(root, 'packaging/image/layer-sizes.mjs'), file, String(200 * MB), String(74.8 * MB)], { encoding: 'utf8' });
  // The last line is a JSON summary for scripts; absent when the input was refused.
  const last = run.stdout.trim().split('\n').at(-1) ?? '';
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, summary: last.startsWith('{') ? JSON.parse(last) as unknown : undefined };
}

const base = [{ CreatedBy: 'debootstrap --variant=minbase bookworm, slimmed', size: 77 * MB }];

describe('packaging/image/layer-sizes.mjs', () => {
  it('counts only the layers above the base image against the target, empty layers included as zero', () => {
    const added = [
      { CreatedBy: '/bin/sh -c apt-get update && apt-get install -y libbpf1', size: 1.5 * MB },
      { CreatedBy: '/bin/sh -c #(nop) COPY file:abc in /usr/local/bin/node ', size: 99 * MB },
      { CreatedBy: '/bin/sh -c #(nop) ENV NODE_ENV=production', size: 0 },
      { CreatedBy: '/bin/sh -c #(nop) COPY dir:def in /opt/flowscope ', size: 49.5 * MB },
    ];
    const result = layerSizes(base, added);
    expect(result.status).toBe(0);
    expect(result.summary).toEqual({ baseBytes: 77 * MB, runtimeLayersBytes: 150 * MB, imageBytes: 227 * MB, rootfsBytes: 200 * MB, targetBytes: 250 * MB });
    expect(result.stdout).toContain('   99.0 MB    + COPY file:abc in /usr/local/bin/node');
    expect(result.stdout).toMatch(/150\.0 MB {2}runtime layers above the base \(target <= 250 MB\): met/);
    expect(result.stdout).not.toContain('ENV NODE_ENV');
  });

  it('fails when the runtime layers exceed 250 MB', () => {
    const result = layerSizes(base, [{ CreatedBy: 'COPY dir:x in /opt/flowscope', size: 250 * MB + 1 }]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('MISSED');
  });

  it('refuses an image that does not start with the base image layers', () => {
    const result = layerSizes(base, [{ CreatedBy: 'COPY x', size: MB }], { imageLayers: ['sha256:other', 'sha256:added0'] });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('does not start with the base image layers');
  });
});

describe('packaging/image/build.sh', () => {
  const dockerfile = readFileSync(join(root, 'packaging/Dockerfile'), 'utf8');
  const buildScript = readFileSync(join(root, 'packaging/image/build.sh'), 'utf8');

  it('passes a local stand-in for every base image the Dockerfile takes as a build argument', () => {
    const fromArgs = [...dockerfile.matchAll(/^FROM \$\{(\w+)\}/gm)].map((m) => m[1]!);
    expect(fromArgs).toEqual(['BUILD_IMAGE', 'NODE_RUNTIME_IMAGE', 'RUNTIME_BASE_IMAGE']);
    const defaults = Object.fromEntries([...dockerfile.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    // A plain `docker build` still uses the real images.
    expect(defaults).toMatchObject({ BUILD_IMAGE: 'node:20-bookworm', NODE_RUNTIME_IMAGE: 'node:20-bookworm-slim', RUNTIME_BASE_IMAGE: 'debian:bookworm-slim' });
    for (const arg of fromArgs) expect(buildScript).toMatch(new RegExp(`--build-arg "${arg}=\\$\\w+_standin"`));
  });

  it('keeps HEALTHCHECK by building docker-format images (OCI images drop it)', () => {
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(buildScript).toMatch(/bh bud --layers --pull=never --format docker/);
  });
});
