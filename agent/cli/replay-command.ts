// `flowscope replay FILE`: a recording through the same reader and pipeline as
// live capture, without privileges. Full speed by default, or paced as recorded.
import { RecordReader } from '../capture/record-reader.js';
import { RecordingReader } from '../capture/recording.js';
import { JsonLinesWriter } from '../output/jsonl-writer.js';
import { Pipeline } from '../pipeline.js';
import type { Flow } from '../schema/flow.js';

export interface ReplaySummary {
  batches: number;
  records: number;
  flows: number;
  seconds: number;
  truncated: boolean;
}

/** Runs a recording through a pipeline; `onFlow` sees every flow. */
export async function replay(path: string, onFlow: (flow: Flow) => void, options: { realtime?: boolean; afterBatch?: () => void } = {}): Promise<ReplaySummary> {
  const recording = new RecordingReader(path);
  const pipeline = new Pipeline({
    wallMinusMonoNs: recording.header.wallMinusMonoNs,
    redactionKey: recording.header.redactionKey,
  });
  pipeline.onFlow(onFlow);
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
    pipeline.handleBatch(reader, batch, length, wallMs);
    options.afterBatch?.();
    batches++;
  }
  const flowsTotal = Object.values(pipeline.counters.flows).reduce((a, b) => a + b, 0);
  return {
    batches,
    records: reader.stats.records,
    flows: flowsTotal,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    truncated: recording.truncated,
  };
}

export async function runReplay(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const [path, ...extra] = positionals;
  if (!path || extra.length > 0) {
    console.error('flowscope replay: give exactly one recording file (fix: flowscope replay FILE)');
    return 2;
  }
  const flowsOut = String(values['flows-out'] ?? '-');
  const output = new JsonLinesWriter(flowsOut, (err) => console.error(`flowscope replay: writing flows to ${flowsOut} failed: ${err.message}; the rest are dropped`));
  const summary = await replay(path, (flow) => output.write(flow), { realtime: values.realtime === true, afterBatch: () => output.flush() });
  await output.close();
  const rate = summary.seconds > 0 ? Math.round(summary.records / summary.seconds) : 0;
  console.error(`flowscope replay: ${summary.records} records in ${summary.batches} batches → ${summary.flows} flows in ${summary.seconds.toFixed(2)} s (${rate} records/s)${summary.truncated ? '; the recording ends mid-block (cut short): everything before it was replayed' : ''}`);
  return 0;
}
