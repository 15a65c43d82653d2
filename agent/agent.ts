// The agent as one unit: capture → pipeline → identity → detection → outputs
// (HTTP port with stream, API and page; JSON lines files; SIEM sinks;
// Prometheus), built from one validated config. `flowscope agent` starts it
// and stops it on a signal; SIGHUP applies a changed config file.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type client from 'prom-client';
import { BpftraceEngine } from './capture/bpftrace-engine.js';
import { captureFilter } from './capture/capture-filter.js';
import type { CaptureEngine } from './capture/engine.js';
import { startEngine } from './capture/engine-select.js';
import { KernelEngine } from './capture/kernel-engine.js';
import { RecordingWriter } from './capture/recording.js';
import type { FlowscopeConfig } from './config/schema.js';
import type { Detection } from './detect/detection.js';
import { detectionFromConfig } from './detect/from-config.js';
import { ErrorCodes, FlowscopeError } from './errors.js';
import { grpcSettings } from './flows/grpc-payloads.js';
import type { Exchange } from './flows/exchange.js';
import { registerIdentityMetrics } from './identity/identity-metrics.js';
import { IdentityResolver } from './identity/identity-resolver.js';
import type { Logger } from './log.js';
import { createAgentMetrics, statusSnapshot } from './metrics/agent-metrics.js';
import { RedMetrics } from './metrics/red-metrics.js';
import { flowJsonBytes } from './output/flow-json.js';
import { JsonLinesWriter } from './output/jsonl-writer.js';
import { Pipeline } from './pipeline.js';
import type { Anomaly, ConnectionRecord, Flow } from './schema/flow.js';
import { AgentServer } from './server/http-server.js';
import { SinkManager } from './sinks/sink-manager.js';
import { registerSinkMetrics } from './sinks/sink-metrics.js';
import { createWebHandler } from './web/web-handler.js';

/** Body prefix kept (never exported) for the content detectors when the config keeps none. */
const DETECTOR_BODY_BYTES = 4096;

export interface AgentStartOptions {
  log: Logger;
  /** Also save the raw capture to this file (libbpf engine only). */
  recordPath?: string;
}

export class Agent {
  readonly pipeline: Pipeline;
  readonly identity: IdentityResolver;
  readonly detection: Detection;
  readonly registry: client.Registry;
  engine!: CaptureEngine;
  server: AgentServer | undefined;
  sinks: SinkManager | undefined;
  readonly #log: Logger;
  readonly #flowsOut: JsonLinesWriter | undefined;
  readonly #anomaliesOut: JsonLinesWriter | undefined;
  #recorder: RecordingWriter | undefined;
  readonly #red: RedMetrics;
  #detecting = false;

  private constructor(
    public config: FlowscopeConfig,
    options: AgentStartOptions,
  ) {
    this.#log = options.log;
    const detectorsNeedBodies = config.detectors.injection.enabled || config.detectors.sensitiveData.enabled;
    this.pipeline = new Pipeline({
      maxBodyCapture: Math.max(config.capture.maxBodyBytes, detectorsNeedBodies ? DETECTOR_BODY_BYTES : 0),
      selfTgid: process.pid,
      grpc: grpcSettings({ 'grpc-decode': config.grpc.decode, 'proto-path': config.grpc.protoPath || undefined }, config.grpc.progressIntervalSeconds),
    });
    this.pipeline.setAdmission(captureFilter(config.capture));

    this.identity = new IdentityResolver({
      enabled: config.identity.enabled,
      kubeconfig: config.identity.kubeconfig || undefined,
      nodeName: config.identity.nodeName || process.env.NODE_NAME || undefined,
      procRoot: config.identity.procRoot || undefined,
      namingRules: config.identity.namingRules,
    }, this.#log);
    this.pipeline.addEnricher(this.identity.enricher, this.identity.generation);
    this.pipeline.onConnOpen((open) => this.identity.notePid(open.tgid, open));

    this.detection = this.#createDetection(config);
    this.#flowsOut = this.#jsonLines(config.outputs.flowsOut, 'flows');
    this.#anomaliesOut = this.#jsonLines(config.outputs.anomaliesOut, 'anomalies');
    this.registry = createAgentMetrics(this.pipeline, () => this.engine, () => this.#flowsOut?.dropped ?? 0);
    this.#red = new RedMetrics(this.registry, { endpointLabels: config.metrics.redEndpointLabels, maxSeries: config.metrics.maxSeries });
    // Before capture starts, so no flow is lost while the outputs come up (they join as they start).
    this.pipeline.onFlow((flow, exchange, serverAlsoReports) => this.#flow(flow, exchange, serverAlsoReports));
    this.pipeline.onConnection((record) => this.#connection(record));
    this.detection.onAnomaly((anomaly) => this.#anomaly(anomaly));
    this.pipeline.onTick(() => this.#tick());
  }

  /** Starts capture and every output; throws FlowscopeError naming what could not start. */
  static async start(config: FlowscopeConfig, options: AgentStartOptions): Promise<Agent> {
    const agent = new Agent(config, options);
    await agent.#start(options);
    return agent;
  }

  async #start(options: AgentStartOptions): Promise<void> {
    const { config } = this;
    if (options.recordPath) {
      if (config.capture.engine === 'bpftrace') throw new FlowscopeError(ErrorCodes.BAD_FLAG, 'recording needs the libbpf engine', 'drop --engine bpftrace, or drop --record');
      this.#recorder = new RecordingWriter(options.recordPath, { wallMinusMonoNs: this.pipeline.clock.wallMinusMonoNs, redactionKey: this.pipeline.redactor.key });
    }
    const recorder = this.#recorder;
    this.engine = startEngine(recorder ? 'libbpf' : config.capture.engine, {
      libbpf: () =>
        new KernelEngine(this.pipeline, this.#log, {
          maxCaptureBytes: config.capture.maxCaptureBytes,
          ringBufferBytes: config.capture.ringBufferBytes,
          tlsProbes: config.capture.tlsProbes,
          recorder,
        }),
      bpftrace: () => new BpftraceEngine(this.pipeline, this.#log),
    }, this.#log);
    try {
      await this.engine.firstBatch();
      await this.identity.start();
      registerIdentityMetrics(this.registry, this.identity);
      this.sinks = await this.#startSinks(config);
      this.server = await this.#startServer(config);
    } catch (err) {
      await this.engine.stop();
      throw err;
    }
  }

  /** Config reload (SIGHUP): applies the keys that can change live. */
  apply(next: FlowscopeConfig, changed: string[]): void {
    this.config = next;
    if (changed.some((k) => k.startsWith('capture.'))) this.pipeline.setAdmission(captureFilter(next.capture));
    if (changed.includes('identity.namingRules')) this.identity.setNamingRules(next.identity.namingRules);
    if (changed.includes('stream.tokenFile')) {
      try {
        this.server?.useTokenFile(next.stream.tokenFile || undefined);
      } catch (err) {
        this.#log.error({ err: (err as Error).message }, 'token file not changed');
      }
    }
    if (changed.includes('sinks')) void this.#restartSinks(next);
  }

  /** Everything `flowscope status` and /v1/status show. */
  status(): Record<string, unknown> {
    return {
      ...statusSnapshot(this.pipeline, this.engine, this.#flowsOut?.dropped ?? 0),
      identity: this.identity.counters,
      detection: this.detection.status(),
      sinks: this.sinks?.counters(),
      stream: this.server?.stats(),
    };
  }

  async stop(): Promise<void> {
    await this.engine.stopCapture();
    // The kernel lets go of TLS probes one at a time (~0.1 s each): the outputs
    // and the baseline are saved meanwhile, not after.
    const released = this.engine.stop();
    this.identity.stop();
    await this.server?.close();
    this.detection.close();
    await this.sinks?.close();
    await this.#flowsOut?.close();
    await this.#anomaliesOut?.close();
    if (this.#recorder) {
      this.#recorder.close();
      this.#log.info({ bytes: this.#recorder.bytes }, 'recording saved');
    }
    await released;
  }

  #createDetection(config: FlowscopeConfig): Detection {
    try {
      mkdirSync(dirname(config.baseline.dbPath), { recursive: true });
    } catch (err) {
      throw new FlowscopeError(ErrorCodes.CONFIG, `baseline.dbPath: cannot create ${dirname(config.baseline.dbPath)}: ${(err as Error).message}`, 'point baseline.dbPath at a writable directory');
    }
    const { detection, observeConnection } = detectionFromConfig(config, { dbPath: config.baseline.dbPath });
    this.pipeline.onConnection(observeConnection);
    return detection;
  }

  #jsonLines(path: string, what: string): JsonLinesWriter | undefined {
    if (!path) return undefined;
    return new JsonLinesWriter(path, (err) => this.#log.error({ err: err.message, path }, `writing ${what} failed; further records are counted as dropped`));
  }

  async #startSinks(config: FlowscopeConfig): Promise<SinkManager | undefined> {
    if (config.sinks.length === 0) return undefined;
    const sinks = await SinkManager.create(config.sinks, { spoolDir: join(dirname(config.baseline.dbPath), 'spool'), logger: this.#log });
    registerSinkMetrics(this.registry, sinks);
    return sinks;
  }

  async #restartSinks(config: FlowscopeConfig): Promise<void> {
    const old = this.sinks;
    this.sinks = undefined;
    await old?.close();
    this.sinks = await SinkManager.create(config.sinks, { spoolDir: join(dirname(config.baseline.dbPath), 'spool'), logger: this.#log });
    this.#log.info({ sinks: config.sinks.length }, 'sinks restarted with the new config');
  }

  /**
   * The HTTP port. A setting that would weaken it (off loopback without a
   * token, unreadable TLS files) stops the agent; a port that is taken only
   * costs the port.
   */
  async #startServer(config: FlowscopeConfig): Promise<AgentServer | undefined> {
    const listen = parseListen(config.stream.listen);
    if (!listen) return undefined;
    const { tlsCert, tlsKey } = config.stream;
    if (Boolean(tlsCert) !== Boolean(tlsKey)) {
      throw new FlowscopeError(ErrorCodes.CONFIG, 'stream.tlsCert and stream.tlsKey go together', 'set both PEM files, or neither for plain HTTP');
    }
    let server: AgentServer;
    try {
      server = await AgentServer.start({
        ...listen,
        registry: this.registry,
        status: () => this.status(),
        ready: () => this.engine.batches > 0,
        providers: this.detection.serverProviders(),
        staticHandler: createWebHandler(),
        tokenFile: config.stream.tokenFile || undefined,
        tls: tlsCert ? { certFile: tlsCert, keyFile: tlsKey } : undefined,
        stream: { history: { flows: config.stream.history, anomalies: 1_000, connections: config.stream.history } },
        maxStreamsPerClient: config.stream.maxClientsPerIp,
        log: this.#log,
      });
    } catch (err) {
      if (err instanceof FlowscopeError) throw err;
      this.#log.error({ err: (err as Error).message, listen: config.stream.listen }, 'HTTP port could not listen; continuing without it');
      return undefined;
    }
    server.registerMetrics(this.registry);
    const address = server.address;
    this.#log.info({ address: `${address.address}:${address.port}`, tls: Boolean(tlsCert), token: Boolean(config.stream.tokenFile) }, 'HTTP port listening');
    return server;
  }

  /** Calls to the agent's own port (the CLI, the page) are its own output: never reported. */
  #own(record: { destination: Flow['destination'] }): boolean {
    return this.server?.isOwnEndpoint(record.destination) ?? false;
  }

  #flow(flow: Flow, exchange: Exchange, serverAlsoReports: boolean): void {
    if (this.#own(flow)) return;
    // Encoded once for both JSON outputs.
    const json = flowJsonBytes(flow);
    this.#flowsOut?.writeJson(json);
    this.server?.publish('flow', flow, json);
    this.sinks?.write('flow', flow);
    this.#red.observe(flow);
    this.detection.onFlow(flow, exchange, serverAlsoReports);
  }

  #connection(record: ConnectionRecord): void {
    if (this.#own(record)) return;
    this.server?.publish('connection', record);
    this.sinks?.write('connection', record);
  }

  #anomaly(anomaly: Anomaly): void {
    this.#anomaliesOut?.write(anomaly);
    this.server?.publish('anomaly', anomaly);
    this.sinks?.write('anomaly', anomaly);
  }

  #tick(): void {
    this.detection.onTick();
    this.#flowsOut?.flush();
    this.#anomaliesOut?.flush();
    if (!this.#detecting && this.detection.baseline.mode().mode === 'detect') {
      this.#detecting = true;
      this.#log.info({ edges: this.detection.baseline.edgeCount }, 'baseline learnt; detecting');
    }
  }
}

/** 'HOST:PORT' → parts; 'off' → undefined (the config validated the shape). */
function parseListen(listen: string): { host: string; port: number } | undefined {
  if (listen === 'off') return undefined;
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  if (!m) throw new FlowscopeError(ErrorCodes.CONFIG, `stream.listen must be HOST:PORT or 'off', got '${listen}'`, 'e.g. 127.0.0.1:7070');
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}
