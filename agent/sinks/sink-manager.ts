// All configured sinks behind one `write(kind, record)`. Each sink has its own
// filter, encoder, spool directory and delivery loop; a sink that fails to
// start is logged and left out, the others run. `write` never throws and never
// waits: capture calls it for every record.
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { RecordKind, SinkConfig, SinkRecord } from './config.js';
import { FileSink } from './file-sink.js';
import { recordEncoder } from './record-encoder.js';
import { compileSinkFilter } from './record-filter.js';
import { SpooledSink, type Sink, type SinkCounters } from './sink.js';
import { Spool } from './spool.js';
import { HttpTransport } from './transport/http-transport.js';
import { SyslogTransport } from './transport/syslog-transport.js';

export interface SinkManagerOptions {
  /** Parent of the per-sink spool directories (e.g. /var/lib/flowscope/spool). */
  spoolDir: string;
  logger: Logger;
  /** Host name written into syslog headers and HEC events (default: os.hostname()). */
  hostname?: string;
}

export class SinkManager {
  readonly #sinks: Sink[];
  readonly #log: Logger;
  /** Records a sink threw on (a bug, never expected): counted, never propagated. */
  #writeErrors = 0;

  private constructor(sinks: Sink[], log: Logger) {
    this.#sinks = sinks;
    this.#log = log;
  }

  /** Opens every sink's spool (resuming what a previous run left) and starts delivery. */
  static async create(configs: SinkConfig[], opts: SinkManagerOptions): Promise<SinkManager> {
    const sinks: Sink[] = [];
    for (const config of configs) {
      try {
        sinks.push(await openSink(config, opts));
      } catch (err) {
        opts.logger.error({ sink: config.name, err: (err as Error).message }, 'sink could not start: it is left out');
      }
    }
    for (const sink of sinks) if (sink instanceof SpooledSink) sink.start();
    if (sinks.length > 0) opts.logger.info({ sinks: sinks.map((s) => `${s.name} (${s.type})`) }, 'sinks started');
    return new SinkManager(sinks, opts.logger);
  }

  get sinks(): readonly Sink[] {
    return this.#sinks;
  }

  write(kind: RecordKind, record: SinkRecord): void {
    for (const sink of this.#sinks) {
      try {
        sink.write(kind, record);
      } catch (err) {
        if (this.#writeErrors++ === 0) this.#log.error({ sink: sink.name, err: (err as Error).message }, 'sink write failed (logged once)');
      }
    }
  }

  /** Per-sink counters as plain numbers, keyed by sink name (metrics, status). */
  counters(): Record<string, SinkCounters & { type: string }> {
    const out: Record<string, SinkCounters & { type: string }> = {};
    for (const sink of this.#sinks) out[sink.name] = { type: sink.type, ...sink.counters() };
    return out;
  }

  async flush(): Promise<void> {
    await Promise.all(this.#sinks.map((s) => s.flush()));
  }

  async close(): Promise<void> {
    await Promise.all(this.#sinks.map((s) => s.close().catch((err: Error) => {
      this.#log.warn({ sink: s.name, err: err.message }, 'sink did not close cleanly');
    })));
  }
}

async function openSink(config: SinkConfig, opts: SinkManagerOptions): Promise<Sink> {
  const accepts = compileSinkFilter(config);
  const encode = recordEncoder(config, opts.hostname);
  if (config.type === 'file') return new FileSink(config, accepts, encode, opts.logger);
  const transport = config.type === 'syslog' ? new SyslogTransport(config) : new HttpTransport(config);
  const spool = await Spool.open({ dir: join(opts.spoolDir, config.name), maxBytes: config.spool.maxBytes }, opts.logger);
  return new SpooledSink(config, accepts, encode, spool, transport, opts.logger);
}
