// `flowscope replay FILE`: a recording through the same reader and pipeline as
// live capture, without privileges. Full speed by default, or paced as recorded.
import { RecordReader } from '../capture/record-reader.js';
import { RecordingReader } from '../capture/recording.js';
import { loadConfigOrThrow } from '../config/load-config.js';
import type { FlowscopeConfig } from '../config/schema.js';
import { detectionFromConfig, type DetectionFromConfig } from '../detect/from-config.js';
import { flowJsonBytes } from '../output/flow-json.js';
import { JsonLinesWriter } from '../output/jsonl-writer.js';
import { Pipeline } from '../pipeline.js';
import type { Anomaly, Flow } from '../schema/flow.js';

export interface ReplaySummary {
  batches: number;
  records: number;
  flows: number;
  seconds: number;
  truncated: boolean;
}

export interface ReplayOptions {
  realtime?: boolean;
  afterBatch?: () => void;
  /** Also run detection as configured (an in-memory baseline on the recording's clock). */
  detect?: { config: FlowscopeConfig; onAnomaly: (anomaly: Anomaly) => void };
}

/** Runs a recording through a pipeline; `onFlow` sees every flow. */
export async function replay(path: string, onFlow: (flow: Flow) => void, options: ReplayOptions = {}): Promise<ReplaySummary> {
  const recording = new RecordingReader(path);
  const pipeline = new Pipeline({
    wallMinusMonoNs: recording.header.wallMinusMonoNs,
    redactionKey: recording.header.redactionKey,
  });
  pipeline.onFlow(onFlow);
  // Detection runs on the recording's clock: its learn window starts at the first batch.
  let recordedNowMs = 0;
  let detect: DetectionFromConfig | undefined;
  if (options.detect) {
    const { config, onAnomaly } = options.detect;
    pipeline.onFlow((flow, exchange, serverAlsoReports) => {
      detect ??= startDetection(config, () => recordedNowMs, onAnomaly);
      detect.detection.onFlow(flow, exchange, serverAlsoReports);
    });
    pipeline.onConnection((record) => detect?.observeConnection(record));
    pipeline.onTick(() => detect?.detection.onTick());
  }
  const reader = new RecordReader();
  const started = process.hrtime.bigint();
  let batches = 0;
  let firstWallMs: number | undefined;
  for (const { batch, length, wallMs } of recording.batches()) {
    if (options.realtime) {
      firstWallMs ??= wallMs;
      const dueMs = wallMs - firstWallMs - Number(process.hrtime.bigint() - started) / 1e6;
      if (dueMs > 0) await new Promise((r) => setTimeout(r, dueMs));
    }
    recordedNowMs = wallMs;
    if (options.detect) detect ??= startDetection(options.detect.config, () => recordedNowMs, options.detect.onAnomaly);
    pipeline.handleBatch(reader, batch, length, wallMs);
    options.afterBatch?.();
    batches++;
  }
  detect?.detection.close();
  const flowsTotal = Object.values(pipeline.counters.flows).reduce((a, b) => a + b, 0);
  return {
    batches,
    records: reader.stats.records,
    flows: flowsTotal,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    truncated: recording.truncated,
  };
}

function startDetection(config: FlowscopeConfig, now: () => number, onAnomaly: (anomaly: Anomaly) => void): DetectionFromConfig {
  const made = detectionFromConfig(config, { now });
  made.detection.onAnomaly(onAnomaly);
  return made;
}

export async function runReplay(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const [path, ...extra] = positionals;
  if (!path || extra.length > 0) {
    console.error('flowscope replay: give exactly one recording file (fix: flowscope replay FILE)');
    return 2;
  }
  const flowsOut = String(values['flows-out'] ?? '-');
  const output = new JsonLinesWriter(flowsOut, (err) => console.error(`flowscope replay: writing flows to ${flowsOut} failed: ${err.message}; the rest are dropped`));
  const anomaliesPath = values['anomalies-out'] as string | undefined;
  const anomalies = anomaliesPath
    ? new JsonLinesWriter(anomaliesPath, (err) => console.error(`flowscope replay: writing anomalies to ${anomaliesPath} failed: ${err.message}; the rest are dropped`))
    : undefined;
  const detect = anomalies
    ? { config: await loadConfigOrThrow({ path: values.config as string | undefined, env: process.env, flags: values }), onAnomaly: (a: Anomaly) => anomalies.write(a) }
    : undefined;
  const summary = await replay(path, (flow) => output.writeJson(flowJsonBytes(flow)), {
    realtime: values.realtime === true,
    afterBatch: () => {
      output.flush();
      anomalies?.flush();
    },
    detect,
  });
  await output.close();
  await anomalies?.close();
  const rate = summary.seconds > 0 ? Math.round(summary.records / summary.seconds) : 0;
  console.error(`flowscope replay: ${summary.records} records in ${summary.batches} batches → ${summary.flows} flows in ${summary.seconds.toFixed(2)} s (${rate} records/s)${summary.truncated ? '; the recording ends mid-block (cut short): everything before it was replayed' : ''}`);
  return 0;
}
