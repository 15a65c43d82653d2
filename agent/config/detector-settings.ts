// The config file's `detectors` and `baseline.routePatterns` in the shapes the detectors
// take: the anomaly engine's DetectorConfigInput, and per-kind sections keyed by the
// detectors' own setting names for createSourceDetectors / createContentDetectors.
import type { DetectorConfigInput } from '../detect/detector-config.js';
import type { DetectorsSettingsInput } from '../detect/source/settings.js';
import type { FlowscopeConfig } from './schema.js';

/** Config-file knob → the detector's setting name, where they differ. */
const settingNames: Record<string, string> = {
  window: 'windowMs',
  factorOverBaseline: 'baselineFactor',
  portFactorOverBaseline: 'portBaselineFactor',
  expiryLeeway: 'expiryLeewayMs',
};

export function detectorSections(config: FlowscopeConfig): DetectorsSettingsInput {
  return Object.fromEntries(Object.entries(config.detectors).map(([kind, section]) => [
    kind,
    Object.fromEntries(Object.entries(section).map(([knob, value]) => [settingNames[knob] ?? knob, value])),
  ]));
}

export function engineDetectorConfig(config: FlowscopeConfig): DetectorConfigInput {
  const d = config.detectors;
  const spike = (s: typeof d.rateSpike) => ({
    enabled: s.enabled, k: s.k as number, minRatio: s.minRatio as number, minDelta: s.minDelta as number,
    minRequests: s.minRequests as number, minHistoryWindows: s.minHistoryWindows as number,
  });
  return {
    engine: { routes: [...config.baseline.routePatterns] },
    graph: {
      newEdge: d.newEdge.enabled,
      newEndpoint: d.newEndpoint.enabled,
      newProtocol: d.newProtocol.enabled,
      plaintext: d.plaintext.enabled,
      plaintextInternalHttp: d.plaintext.internalHttp as boolean,
      newEndpointRequiresSuccess: d.newEndpoint.requiresSuccess as boolean,
      newEndpointsPerEdge: d.newEndpoint.maxPerEdge as number,
    },
    rateSpike: spike(d.rateSpike),
    errorSpike: spike(d.errorSpike),
    latencySpike: spike(d.latencySpike),
    largeTransfer: {
      enabled: d.largeTransfer.enabled, factor: d.largeTransfer.factor as number, quantile: d.largeTransfer.quantile as number,
      minBytes: d.largeTransfer.minBytes as number, minSamples: d.largeTransfer.minSamples as number,
    },
  };
}
