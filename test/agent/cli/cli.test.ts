// The command line as a person meets it: one-line errors, real exit codes.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { unprivileged } from '../../helpers/unprivileged.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../../bin/flowscope.js', import.meta.url));

async function flowscope(args: string[], withoutCapabilities = false): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, argv] = withoutCapabilities ? unprivileged(process.execPath, [bin, ...args]) : [process.execPath, [bin, ...args]];
  try {
    const { stdout, stderr } = await run(cmd as string, argv as string[]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('flowscope CLI', () => {
  it('rejects an unknown flag with one line and exit code 2', async () => {
    const r = await flowscope(['agent', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--bogus/);
  });

  it('rejects a bad flag value with the fix', async () => {
    const r = await flowscope(['agent', '--max-capture-bytes', 'lots']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/capture\.maxCaptureBytes \(from --max-capture-bytes\): must be a byte count.*\(fix: .*FLOWSCOPE_ERR_CONFIG/);
  });

  it('refuses to start without privileges, in one line', async () => {
    const r = await flowscope(['agent'], true);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot load eBPF programs: missing CAP_BPF, CAP_PERFMON.*FLOWSCOPE_ERR_NOT_ROOT/);
  });

  it('refuses a flows file it cannot open, in one line, before capturing', async () => {
    const r = await flowscope(['agent', '--flows-out', '/nonexistent-dir/flows.jsonl', '--listen', 'off']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot write flows to \/nonexistent-dir\/flows.jsonl.*FLOWSCOPE_ERR_OUTPUT/);
  });

  it('prints help for every command', async () => {
    for (const args of [['--help'], ['agent', '--help'], ['doctor', '--help']]) {
      const r = await flowscope(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/flowscope/);
    }
  });

  it('doctor passes on this host and loads the programs for real', async () => {
    const r = await flowscope(['doctor']);
    expect(r.stdout).toMatch(/PASS\s+load eBPF programs/);
    expect(r.stdout).toMatch(/PASS\s+capture engine\s+libbpf/);
    expect(r.stdout).not.toMatch(/FAIL/);
    expect(r.code).toBe(0);
  });

  it('doctor fails without privileges and says why', async () => {
    const r = await flowscope(['doctor'], true);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL\s+capabilities\s+missing CAP_BPF/);
  });
});
