// `flowscope config check` through the real command line (needs the TypeScript build).
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../../bin/flowscope.js', import.meta.url));
const example = fileURLToPath(new URL('../../../packaging/flowscope.example.yaml', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'flowscope-config-cli-'));

async function flowscope(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('flowscope config check', () => {
  it('says OK for the shipped example', async () => {
    expect(await flowscope(['config', 'check', example])).toEqual({ code: 0, stdout: `${example}: OK\n`, stderr: '' });
  });

  it('prints every error, one per line, and exits 1', async () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'capture:\n  maxCaptureBytes: 1000000\nstream:\n  listen: 0.0.0.0:7070\n');
    const r = await flowscope(['config', 'check', path]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')).toEqual([
      `${path}: 2 errors`,
      '  capture.maxCaptureBytes: must be 64-65536 bytes, got 1000000 (fix: write e.g. maxCaptureBytes: 16KiB)',
      '  stream.tokenFile: must be set when stream.listen (0.0.0.0:7070) is not loopback: off loopback every request needs a bearer token (fix: write a random token to a file readable only by flowscope and set tokenFile to its path)',
      '',
    ]);
  });

  it('shows the effective config with env overrides under --print', async () => {
    const r = await flowscope(['config', 'check', example, '--print'], { FLOWSCOPE_BASELINE_LEARN_WINDOW: '90m' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}learnWindow: 1h30m$/m);
  });

  it('names a file it cannot read', async () => {
    const r = await flowscope(['config', 'check', join(dir, 'missing.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('missing.yaml: cannot be read: ENOENT (fix: check the path and that flowscope may read it)');
  });

  it('rejects anything but check with usage', async () => {
    const r = await flowscope(['config', 'lint']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config takes 'check \[FILE\]'/);
  });
});
