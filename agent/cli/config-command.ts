// `flowscope config check [FILE]`: validates a config file (with the env overrides in force)
// without starting anything; --print shows the effective config.
import { ErrorCodes, FlowscopeError } from '../errors.js';
import { loadConfig, printConfig } from '../config/load-config.js';

/** Where the agent looks when no file is named (the systemd unit and the image use it). */
export const defaultConfigPath = '/etc/flowscope/config.yaml';

export async function runConfig(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const [action, file, ...extra] = positionals;
  if (action !== 'check' || extra.length > 0) {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, `config takes 'check [FILE]', got '${positionals.join(' ')}'`, 'flowscope config check /etc/flowscope/config.yaml');
  }
  const path = file ?? defaultConfigPath;
  const { config, errors } = await loadConfig({ path, env: process.env });
  if (errors.length > 0) {
    console.error(`${path}: ${errors.length} error${errors.length > 1 ? 's' : ''}`);
    for (const line of errors) console.error(`  ${line}`);
    return 1;
  }
  if (values.print === true) process.stdout.write(printConfig(config));
  else console.log(`${path}: OK`);
  return 0;
}
