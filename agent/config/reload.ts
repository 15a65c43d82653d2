// SIGHUP re-reads the config file. A bad file changes nothing (errors are logged); keys that
// only take effect at start keep their running values and are named as needing a restart.
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { getPath, loadConfig } from './load-config.js';
import { schemaLeaves, type FlowscopeConfig } from './schema.js';

export interface ReloadOutcome {
  /** Live keys whose values changed and were applied. */
  changedKeys: string[];
  /** Keys that changed in the file but apply only after a restart (running values kept). */
  restartKeys: string[];
  /** Validation errors: when not empty, nothing was applied. */
  errors: string[];
}

export interface ConfigReloader {
  /** The config in force: the start config with every applied reload. */
  current(): FlowscopeConfig;
  /** What SIGHUP does; callable directly (an API endpoint, tests). */
  reload(): Promise<ReloadOutcome>;
  close(): void;
}

export interface ReloadOptions {
  /** The config the agent started with. */
  initial: FlowscopeConfig;
  env?: NodeJS.ProcessEnv;
  /** The start flags: they still override the file after a reload. */
  flags?: Record<string, unknown>;
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Listen for SIGHUP (default true). */
  signal?: boolean;
}

const leaves = schemaLeaves();

/** Which leaves differ, split into those applied live and those needing a restart. */
export function diffConfigs(before: FlowscopeConfig, after: FlowscopeConfig): { live: string[]; restart: string[] } {
  const live: string[] = [];
  const restart: string[] = [];
  for (const [path, spec] of leaves) {
    if (isDeepStrictEqual(getPath(before, path), getPath(after, path))) continue;
    (spec.live ? live : restart).push(path);
  }
  return { live, restart };
}

export function watchConfigReload(
  path: string,
  onReload: (newConfig: FlowscopeConfig, changedKeys: string[], restartKeys: string[]) => void,
  options: ReloadOptions,
): ConfigReloader {
  let current = options.initial;
  let running: Promise<ReloadOutcome> | undefined;

  const reloadOnce = async (): Promise<ReloadOutcome> => {
    const { config, errors } = await loadConfig({ path, env: options.env ?? process.env, flags: options.flags });
    if (errors.length > 0) {
      options.log?.error({ path, errors }, 'config reload rejected; the running config is unchanged');
      return { changedKeys: [], restartKeys: [], errors };
    }
    const { live, restart } = diffConfigs(current, config);
    // Restart-only keys keep their running values so the config in force matches what runs.
    const applied = structuredClone(config);
    for (const key of restart) setLeaf(applied, key, structuredClone(getPath(current, key)));
    if (restart.length > 0) options.log?.warn({ path, keys: restart }, 'config keys changed that apply only after a restart; restart flowscope to apply them');
    if (live.length > 0) {
      current = applied;
      options.log?.info({ path, keys: live }, 'config reloaded');
      onReload(applied, live, restart);
    } else {
      options.log?.info({ path }, 'config reloaded; nothing to apply');
    }
    return { changedKeys: live, restartKeys: restart, errors: [] };
  };

  // Signals arriving during a reload queue one more, so the last edit always wins.
  const reload = (): Promise<ReloadOutcome> => {
    const next = (running ?? Promise.resolve()).then(reloadOnce, reloadOnce);
    running = next;
    return next;
  };
  const onSignal = () => {
    reload().catch((err: Error) => options.log?.error({ path, err: err.message }, 'config reload failed; the running config is unchanged'));
  };
  if (options.signal !== false) process.on('SIGHUP', onSignal);

  return {
    current: () => current,
    reload,
    close: () => {
      process.off('SIGHUP', onSignal);
    },
  };
}

function setLeaf(target: FlowscopeConfig, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target as unknown as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
  node[parts.at(-1)!] = value;
}
