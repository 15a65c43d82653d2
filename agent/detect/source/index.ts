// Per-source detectors: behaviour of one client over a window (scanning,
// walking ids, failing to authenticate), each with its own config and defaults.
import type { ConnectionRecord } from '../../schema/flow.js';
import type { Detector } from '../finding.js';
import { AuthFailureDetector, defaultAuthFailureConfig, type AuthFailureConfig } from './auth-failure-detector.js';
import { EnumerationDetector, defaultEnumerationConfig, type EnumerationConfig } from './enumeration-detector.js';
import { ScanDetector, defaultScanConfig, type ScanConfig } from './scan-detector.js';
import { settingsFor, type DetectorsSettingsInput } from './settings.js';

export { AuthFailureDetector, EnumerationDetector, ScanDetector };
export type { AuthFailureConfig, EnumerationConfig, ScanConfig };

/** A detector that also wants connection records (connections that never carried a flow). */
export interface ConnectionObserver {
  observeConnection(record: ConnectionRecord, nowMs: number): void;
}

export function observesConnections(detector: Detector): detector is Detector & ConnectionObserver {
  return typeof (detector as Partial<ConnectionObserver>).observeConnection === 'function';
}

export interface SourceDetectorsConfig {
  scan: ScanConfig;
  enumeration: EnumerationConfig;
  authFailureBurst: AuthFailureConfig;
}

export const defaultSourceDetectorsConfig: SourceDetectorsConfig = {
  scan: defaultScanConfig,
  enumeration: defaultEnumerationConfig,
  authFailureBurst: defaultAuthFailureConfig,
};

export interface SourceDetectorsConfigInput {
  scan?: Partial<ScanConfig>;
  enumeration?: Partial<EnumerationConfig>;
  authFailureBurst?: Partial<AuthFailureConfig>;
}

/** The enabled per-source detectors; settings not given take their defaults. */
export function createSourceDetectors(config: SourceDetectorsConfigInput = {}): Detector[] {
  const detectors: Detector[] = [];
  const scan = { ...defaultScanConfig, ...config.scan };
  if (scan.enabled) detectors.push(new ScanDetector(scan));
  const enumeration = { ...defaultEnumerationConfig, ...config.enumeration };
  if (enumeration.enabled) detectors.push(new EnumerationDetector(enumeration));
  const auth = { ...defaultAuthFailureConfig, ...config.authFailureBurst };
  if (auth.enabled) detectors.push(new AuthFailureDetector(auth));
  return detectors;
}

/** The per-source configs from the config file's `detectors` section (keys scan, enumeration, authFailureBurst). */
export function sourceConfigFromSettings(detectors: DetectorsSettingsInput): SourceDetectorsConfigInput {
  return {
    scan: settingsFor(defaultScanConfig, detectors['scan']),
    enumeration: settingsFor(defaultEnumerationConfig, detectors['enumeration']),
    authFailureBurst: settingsFor(defaultAuthFailureConfig, detectors['authFailureBurst']),
  };
}
