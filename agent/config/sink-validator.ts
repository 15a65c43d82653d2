// The sink-specific keys are checked by the sinks themselves (agent/sinks/config.ts), which
// also fills in their defaults; the config loader only checks the shared shape first.
import { validateSinkConfigs, type SinkConfig } from '../sinks/config.js';

/** Normalised sinks, or one line per problem: `sinks[1].port: must be 1-65535 (fix: ...)`. */
export type SinkValidator = (sinks: unknown[]) => { sinks: SinkConfig[]; errors: string[] };

export const validateSinks: SinkValidator = (sinks) => validateSinkConfigs(sinks, 'sinks');
