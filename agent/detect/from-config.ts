// The detection unit a config asks for: the baseline (persisted when a path is
// given), the anomaly engine and every detector with the config's settings.
// The agent and replay build it the same way.
import { detectorSections, engineDetectorConfig } from '../config/detector-settings.js';
import type { FlowscopeConfig } from '../config/schema.js';
import type { ConnectionRecord } from '../schema/flow.js';
import { contentConfigFromSettings, createContentDetectors } from './content/index.js';
import { Detection } from './detection.js';
import { createSourceDetectors, observesConnections, sourceConfigFromSettings } from './source/index.js';

export interface DetectionFromConfig {
  detection: Detection;
  /** Feed every connection record here (port scans are seen in connections). */
  observeConnection(record: ConnectionRecord): void;
}

export function detectionFromConfig(config: FlowscopeConfig, options: { dbPath?: string; now?: () => number } = {}): DetectionFromConfig {
  const sections = detectorSections(config);
  const detectors = [
    ...createContentDetectors(contentConfigFromSettings(sections)),
    ...createSourceDetectors(sourceConfigFromSettings(sections)),
  ];
  const detection = new Detection({
    baseline: { dbPath: options.dbPath, learnWindowMs: config.baseline.learnWindow, maxEndpointsPerEdge: config.baseline.maxEndpointsPerEdge },
    config: engineDetectorConfig(config),
    detectors,
    ...(options.now ? { now: options.now } : {}),
  });
  const connectionObservers = detectors.filter(observesConnections);
  return {
    detection,
    observeConnection: (record) => {
      for (const detector of connectionObservers) detector.observeConnection(record, Date.parse(record.time) || Date.now());
    },
  };
}
