// Content detectors: what a single request or response carries (attack
// payloads, secrets and personal data, weak JWTs), each with its own config.
import type { Detector } from '../finding.js';
import { settingsFor, type DetectorsSettingsInput } from '../source/settings.js';
import { InjectionDetector, defaultInjectionConfig, type InjectionConfig } from './injection-detector.js';
import { JwtDetector, defaultJwtConfig, type JwtConfig } from './jwt-detector.js';
import { SensitiveDataDetector, defaultSensitiveDataConfig, type SensitiveDataConfig } from './sensitive-data-detector.js';

export { InjectionDetector, JwtDetector, SensitiveDataDetector };
export type { InjectionConfig, JwtConfig, SensitiveDataConfig };
export { INJECTION_RULES, INJECTION_FAMILIES, type InjectionFamily } from './injection-rules.js';
export type { SensitiveDataType } from './sensitive-data-rules.js';

export interface ContentDetectorsConfig {
  injection: InjectionConfig;
  sensitiveData: SensitiveDataConfig;
  jwtWeakness: JwtConfig;
}

export const defaultContentDetectorsConfig: ContentDetectorsConfig = {
  injection: defaultInjectionConfig,
  sensitiveData: defaultSensitiveDataConfig,
  jwtWeakness: defaultJwtConfig,
};

export interface ContentDetectorsConfigInput {
  injection?: Partial<InjectionConfig>;
  sensitiveData?: Partial<SensitiveDataConfig>;
  jwtWeakness?: Partial<JwtConfig>;
}

/** The enabled content detectors; settings not given take their defaults. */
export function createContentDetectors(config: ContentDetectorsConfigInput = {}): Detector[] {
  const detectors: Detector[] = [];
  const injection = { ...defaultInjectionConfig, ...config.injection };
  if (injection.enabled) detectors.push(new InjectionDetector(injection));
  const sensitive = { ...defaultSensitiveDataConfig, ...config.sensitiveData };
  if (sensitive.enabled) detectors.push(new SensitiveDataDetector(sensitive));
  const jwt = { ...defaultJwtConfig, ...config.jwtWeakness };
  if (jwt.enabled) detectors.push(new JwtDetector(jwt));
  return detectors;
}

/** The content configs from the config file's `detectors` section (keys injection, sensitiveData, jwtWeakness). */
export function contentConfigFromSettings(detectors: DetectorsSettingsInput): ContentDetectorsConfigInput {
  return {
    injection: settingsFor(defaultInjectionConfig, detectors['injection']),
    // One size knob in the file bounds both the URL and the body prefix scanned.
    sensitiveData: settingsFor(defaultSensitiveDataConfig, detectors['sensitiveData'], { maxFieldBytes: ['maxUrlBytes', 'maxBodyBytes'] }),
    jwtWeakness: settingsFor(defaultJwtConfig, detectors['jwtWeakness']),
  };
}
