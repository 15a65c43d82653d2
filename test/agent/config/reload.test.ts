// SIGHUP reload: live keys applied, restart-only keys named and kept, bad files rejected whole.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigOrThrow } from '../../../agent/config/load-config.js';
import { watchConfigReload, type ConfigReloader } from '../../../agent/config/reload.js';
import type { FlowscopeConfig } from '../../../agent/config/schema.js';
import { waitFor } from '../../helpers/wait.mjs';

const dir = mkdtempSync(join(tmpdir(), 'flowscope-reload-'));
const reloaders: ConfigReloader[] = [];
afterEach(() => reloaders.splice(0).forEach((r) => r.close()));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function logRecorder() {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => lines.push({ level, obj, msg });
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } as never };
}

async function start(name: string, text: string) {
  const path = join(dir, name);
  writeFileSync(path, text);
  const initial = await loadConfigOrThrow({ path, env: {} });
  const reloads: Array<{ config: FlowscopeConfig; changed: string[]; restart: string[] }> = [];
  const { lines, log } = logRecorder();
  const reloader = watchConfigReload(path, (config, changed, restart) => reloads.push({ config, changed, restart }), { initial, env: {}, log });
  reloaders.push(reloader);
  return { path, initial, reloads, lines, reloader };
}

describe('watchConfigReload', () => {
  it('re-reads the file on SIGHUP and applies the live keys', async () => {
    const { path, reloads, reloader } = await start('live.yaml', 'capture:\n  excludePorts: [22]\n');
    writeFileSync(path, 'capture:\n  excludePorts: [22, 5432]\nidentity:\n  namingRules:\n    - { match: { comm: nginx }, workload: web }\n');
    process.kill(process.pid, 'SIGHUP');
    const reload = await waitFor('the reload callback', () => reloads[0]);
    expect(reload.changed).toEqual(['capture.excludePorts', 'identity.namingRules']);
    expect(reload.restart).toEqual([]);
    expect(reload.config.capture.excludePorts).toEqual([{ from: 22, to: 22 }, { from: 5432, to: 5432 }]);
    expect(reloader.current().identity.namingRules).toEqual([{ match: { comm: 'nginx' }, workload: 'web' }]);
  });

  it('keeps the running config when the new file has errors, and logs every error', async () => {
    const { path, initial, reloads, lines, reloader } = await start('bad.yaml', 'stream:\n  history: 100\n');
    writeFileSync(path, 'stream:\n  history: lots\ncapture:\n  engine: ebpf\n');
    const outcome = await reloader.reload();
    expect(outcome.errors).toEqual([
      'stream.history: must be a whole number from 0 to 1000000, got "lots" (fix: write e.g. history: 10000)',
      'capture.engine: must be one of auto, libbpf, bpftrace, got "ebpf" (fix: write e.g. engine: auto)',
    ]);
    expect(reloads).toEqual([]);
    expect(reloader.current()).toBe(initial);
    expect(lines.find((l) => l.level === 'error')?.obj.errors).toEqual(outcome.errors);
  });

  it('names keys that need a restart and keeps their running values', async () => {
    const { path, reloads, lines, reloader } = await start('restart.yaml', 'capture:\n  maxCaptureBytes: 4KiB\n');
    writeFileSync(path, 'capture:\n  maxCaptureBytes: 8KiB\n  excludeProcesses: [sshd]\n');
    const outcome = await reloader.reload();
    expect(outcome).toEqual({ changedKeys: ['capture.excludeProcesses'], restartKeys: ['capture.maxCaptureBytes'], errors: [] });
    expect(reloads[0]!.config.capture.maxCaptureBytes).toBe(4096);
    expect(reloads[0]!.config.capture.excludeProcesses).toEqual(['sshd']);
    expect(lines.find((l) => l.level === 'warn')?.obj.keys).toEqual(['capture.maxCaptureBytes']);
  });

  it('does not call back when only restart-only keys changed', async () => {
    const { path, reloads, reloader } = await start('only-restart.yaml', 'stream:\n  history: 10\n');
    writeFileSync(path, 'stream:\n  history: 20\n');
    expect(await reloader.reload()).toEqual({ changedKeys: [], restartKeys: ['stream.history'], errors: [] });
    expect(reloads).toEqual([]);
    expect(reloader.current().stream.history).toBe(10);
  });

  it('stops listening for SIGHUP when closed', async () => {
    const before = process.listenerCount('SIGHUP');
    const { reloader } = await start('close.yaml', '');
    expect(process.listenerCount('SIGHUP')).toBe(before + 1);
    reloader.close();
    expect(process.listenerCount('SIGHUP')).toBe(before);
  });
});
