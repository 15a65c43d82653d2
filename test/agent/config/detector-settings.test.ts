// The config file's detector keys reach the detectors: defaults agree with theirs, and a knob
// set in the file arrives under the detector's own setting name.
import { describe, expect, it } from 'vitest';
import { engineDetectorConfig, detectorSections } from '../../../agent/config/detector-settings.js';
import { resolveConfig } from '../../../agent/config/load-config.js';
import { defaultConfig } from '../../../agent/config/schema.js';
import { defaultDetectorConfig, resolveDetectorConfig } from '../../../agent/detect/detector-config.js';
import { contentConfigFromSettings, defaultContentDetectorsConfig } from '../../../agent/detect/content/index.js';
import { defaultSourceDetectorsConfig, sourceConfigFromSettings } from '../../../agent/detect/source/index.js';

describe('detector settings from the config file', () => {
  it('gives the detectors their own defaults when the file sets nothing', () => {
    const config = defaultConfig();
    expect(resolveDetectorConfig(engineDetectorConfig(config))).toEqual(defaultDetectorConfig);
    const sections = detectorSections(config);
    const source = sourceConfigFromSettings(sections);
    for (const kind of ['scan', 'enumeration', 'authFailureBurst'] as const) {
      expect({ ...defaultSourceDetectorsConfig[kind], ...source[kind] }, kind).toEqual(defaultSourceDetectorsConfig[kind]);
    }
    const content = contentConfigFromSettings(sections);
    expect({ ...defaultContentDetectorsConfig.injection, ...content.injection }).toEqual(defaultContentDetectorsConfig.injection);
    expect({ ...defaultContentDetectorsConfig.jwtWeakness, ...content.jwtWeakness }).toEqual(defaultContentDetectorsConfig.jwtWeakness);
    expect(content.sensitiveData).toMatchObject({ enabled: true, maxBodyBytes: defaultContentDetectorsConfig.sensitiveData.maxBodyBytes, scanResponses: true });
  });

  it('passes every knob the file sets under the detector’s setting name', () => {
    const { config, errors } = resolveConfig({
      file: {
        path: 'c.yaml',
        text: `baseline:
  routePatterns: ["/api/orders/:orderId", "/files/{name}/*"]
detectors:
  scan: { window: 10s, portFactorOverBaseline: 4 }
  authFailureBurst: { factorOverBaseline: 8, enabled: false }
  jwtWeakness: { expiryLeeway: 5s }
  plaintext: { internalHttp: true }
  latencySpike: { k: 9, minDelta: 200 }
  largeTransfer: { minBytes: 10MiB }
`,
      },
    });
    expect(errors).toEqual([]);
    const sections = detectorSections(config);
    expect(sourceConfigFromSettings(sections).scan).toMatchObject({ windowMs: 10_000, portBaselineFactor: 4 });
    expect(sourceConfigFromSettings(sections).authFailureBurst).toMatchObject({ baselineFactor: 8, enabled: false });
    expect(contentConfigFromSettings(sections).jwtWeakness).toMatchObject({ expiryLeewayMs: 5000 });
    const engine = resolveDetectorConfig(engineDetectorConfig(config));
    expect(engine.engine.routes).toEqual(['/api/orders/:orderId', '/files/{name}/*']);
    expect(engine.graph.plaintextInternalHttp).toBe(true);
    expect(engine.latencySpike).toMatchObject({ k: 9, minDelta: 200 });
    expect(engine.largeTransfer.minBytes).toBe(10 * 1024 * 1024);
  });
});
