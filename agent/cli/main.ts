// flowscope command line. Errors are one line with the fix; never a stack trace.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import { runAgent } from './agent-command.js';
import { acceptUsage, baselineOptions, relearnUsage, runAccept, runRelearn } from './baseline-commands.js';
import { runConfig } from './config-command.js';
import { runDoctor } from './doctor-command.js';
import { anomaliesOptions, anomaliesUsage, runAnomalies } from './anomalies-command.js';
import { flowsOptions, flowsUsage, runFlows } from './flows-command.js';
import { mapOptions, mapUsage, runMap } from './map-command.js';
import { runStatus, statusOptions, statusUsage } from './status-command.js';
import { runTls, tlsOptions, tlsUsage } from './tls-command.js';
import { runTop, topOptions, topUsage as topCommandUsage } from './top-command.js';
import { runReplay } from './replay-command.js';

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Takes positional arguments (e.g. a file). */
  positionals?: boolean;
  run(values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

const captureOptions: NonNullable<ParseArgsConfig['options']> = {
  config: { type: 'string' },
  engine: { type: 'string' },
  listen: { type: 'string' },
  'max-capture-bytes': { type: 'string' },
  'ring-buffer-bytes': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'no-tls-probes': { type: 'boolean' },
  duration: { type: 'string' },
  'log-level': { type: 'string' },
};

const commands: Record<string, Command> = {
  agent: {
    summary: 'run the capture agent (needs root)',
    usage: `flowscope agent [--config FILE] [options]

Loads the eBPF programs and captures the HTTP/1.x, HTTP/2 and gRPC calls on this
host (plaintext and TLS), names both ends (process, container, pod, workload),
learns the baseline of who talks to whom and raises anomalies. Flows and
anomalies go to the HTTP port's stream (flowscope flows, the page at /), to
JSON lines files and to the configured SIEM sinks.

Settings come from the config file (default /etc/flowscope/config.yaml when it
exists; see packaging/flowscope.example.yaml and flowscope config check), then
FLOWSCOPE_<SECTION>_<KEY> environment variables, then these flags:

  --config FILE          YAML config file; SIGHUP re-reads it
  --engine auto|libbpf|bpftrace
                         capture engine (default auto: libbpf, or bpftrace when the
                         compiled object cannot load; the reason is logged)
  --flows-out PATH       write every flow as a JSON line to PATH ('-' for stdout)
  --anomalies-out PATH   write every anomaly update as a JSON line to PATH
  --listen HOST:PORT     the agent's HTTP port: the page at /, /v1/stream (WebSocket),
                         /v1/status, /v1/map, /v1/anomalies, /metrics, /healthz, /readyz
                         (default 127.0.0.1:7070; 'off' to disable)
  --token-file FILE      bearer token every request must carry (required when
                         --listen is off loopback); re-read when it changes or on SIGHUP
  --tls-cert FILE, --tls-key FILE
                         serve the HTTP port over TLS (PEM)
  --stream-history N     flows kept in memory for flowscope flows --last (default 10000)
  --baseline-db PATH     baseline database (default /var/lib/flowscope/baseline.db)
  --learn-window DURATION
                         how long the baseline learns before detecting (default 24h)
  --kubeconfig FILE, --node-name NAME
                         Kubernetes identity outside a pod (in a pod: automatic)
  --max-capture-bytes N  payload bytes captured per syscall or TLS call (default 16384, max 65536)
  --ring-buffer-bytes N  kernel ring buffer, rounded up to a power of two (default 4MiB, 1MiB-1GiB)
  --max-body-bytes N     body prefix kept per message for inspection (default 0)
  --no-tls-probes        do not attach uprobes to TLS libraries
  --record FILE          also save the raw capture to FILE (see flowscope replay)
  --grpc-progress-interval SECONDS
                         a gRPC stream open this long gets a progress flow (grpc.inProgress),
                         and another each interval after (default 60; 0 turns them off)
  --grpc-decode MODE     schema|schemaless|off: decode gRPC message payloads into
                         grpc.requestPayloads/responsePayloads (default off, or schema
                         when --proto-path is given). Payloads may hold secrets.
  --proto-path PATH      directory of .proto files, or a FileDescriptorSet file
                         (.pb/.binpb/.desc/.protoset), for --grpc-decode schema
  --duration SECONDS     stop by itself after this long
  --log-level LEVEL      trace|debug|info|warn|error (default info; env FLOWSCOPE_LOG_LEVEL)

Examples:
  sudo flowscope agent --flows-out -
  sudo flowscope agent --config /etc/flowscope/config.yaml
  sudo flowscope agent --learn-window 1h --anomalies-out /var/log/flowscope/anomalies.jsonl
  sudo flowscope agent --engine bpftrace --flows-out -`,
    options: {
      ...captureOptions, 'flows-out': { type: 'string' }, 'anomalies-out': { type: 'string' }, record: { type: 'string' },
      'token-file': { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'stream-history': { type: 'string' },
      'baseline-db': { type: 'string' }, 'learn-window': { type: 'string' }, kubeconfig: { type: 'string' }, 'node-name': { type: 'string' },
      'grpc-progress-interval': { type: 'string' }, 'grpc-decode': { type: 'string' }, 'proto-path': { type: 'string' },
    },
    run: (v) => runAgent(v),
  },
  record: {
    summary: 'save raw capture events to a file (needs root)',
    usage: `flowscope record --out FILE [--duration SECONDS] [agent options]

Captures like the agent and saves every raw capture batch to FILE (a compact
binary file with a versioned header) until Ctrl-C or --duration. The file holds
payloads in clear: treat it as secret. Replay it with flowscope replay.

Example:
  sudo flowscope record --out /tmp/capture.fsrec --duration 30`,
    options: { ...captureOptions, out: { type: 'string' }, 'flows-out': { type: 'string' } },
    run: (v) => {
      if (!v.out) throw new FlowscopeError(ErrorCodes.BAD_FLAG, 'record needs --out FILE', 'flowscope record --out /tmp/capture.fsrec');
      return runAgent({ ...v, record: v.out });
    },
  },
  replay: {
    summary: 'run a recording through the pipeline (no privileges needed)',
    usage: `flowscope replay FILE [--realtime] [--flows-out PATH] [--anomalies-out PATH [--config FILE] [--learn-window D]]

Feeds a recording made by flowscope record (or agent --record) through the
same decoders and flow assembly as live capture and writes the flows as JSON
lines (default stdout). Full speed by default; --realtime paces it as recorded.
With --anomalies-out, detection runs too, as the config file says, on the
recording's clock with a fresh in-memory baseline (its learn window starts at
the recording's first batch). Identity (users, containers, workloads) is host
state at capture time and is not in the recording.

Examples:
  flowscope replay /tmp/capture.fsrec --flows-out /tmp/flows.jsonl
  flowscope replay /tmp/capture.fsrec --flows-out /dev/null --anomalies-out - --learn-window 60s`,
    options: {
      realtime: { type: 'boolean', default: false }, 'flows-out': { type: 'string' }, 'anomalies-out': { type: 'string' },
      config: { type: 'string' }, 'learn-window': { type: 'string' },
    },
    positionals: true,
    run: (v, p) => runReplay(v, p),
  },
  config: {
    summary: 'check a config file and show the effective config',
    usage: `flowscope config check [FILE] [--print]

Validates FILE (default /etc/flowscope/config.yaml) with the FLOWSCOPE_<SECTION>_<KEY>
environment overrides in force, and prints OK or every error, one per line, naming
the key and the fix (exit code 1). --print shows the effective config instead of OK
(defaults < file < environment). Reload a running agent with SIGHUP.

Examples:
  flowscope config check /etc/flowscope/config.yaml
  FLOWSCOPE_STREAM_LISTEN=0.0.0.0:7070 flowscope config check config.yaml --print`,
    options: { print: { type: 'boolean', default: false } },
    positionals: true,
    run: (v, p) => runConfig(v, p),
  },
  flows: {
    summary: 'show flows from a running agent, from history or live',
    usage: flowsUsage,
    options: flowsOptions,
    run: (v) => runFlows(v),
  },
  anomalies: {
    summary: 'show the anomalies a running agent detected',
    usage: anomaliesUsage,
    options: anomaliesOptions,
    run: (v) => runAnomalies(v),
  },
  top: {
    summary: 'live per-edge request rate, errors and latency',
    usage: topCommandUsage,
    options: topOptions,
    run: (v) => runTop(v),
  },
  map: {
    summary: 'print the service map (text, json, dot, mermaid)',
    usage: mapUsage,
    options: mapOptions,
    run: (v) => runMap(v),
  },
  status: {
    summary: "summarise a running agent's capture and loss counters",
    usage: statusUsage,
    options: statusOptions,
    run: (v) => runStatus(v),
  },
  accept: {
    summary: 'take an anomaly into the baseline (it is expected)',
    usage: acceptUsage,
    options: baselineOptions,
    positionals: true,
    run: (v, p) => runAccept(v, p),
  },
  relearn: {
    summary: 'learn one workload again',
    usage: relearnUsage,
    options: baselineOptions,
    positionals: true,
    run: (v, p) => runRelearn(v, p),
  },
  tls: {
    summary: 'per process: TLS library found, plaintext capture active or why not',
    usage: tlsUsage,
    options: tlsOptions,
    run: (v) => runTls(v),
  },
  doctor: {
    summary: 'check whether this host can run the agent',
    usage: `flowscope doctor [--no-color]

Checks the kernel version, BTF, ring buffer support, tracefs, capabilities,
lockdown mode, libssl and the native build, then loads the eBPF programs for
real. Exit code 0 only when the agent can run.

Example:
  sudo flowscope doctor`,
    options: { 'no-color': { type: 'boolean', default: false } },
    run: (v) => runDoctor(v),
  },
};

function topUsage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `flowscope: eBPF traffic monitoring for container hosts

Usage: flowscope <command> [options]   (flowscope <command> --help for details)

Commands:
${lines.join('\n')}`;
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(topUsage());
    process.exitCode = name ? 0 : 2;
    return;
  }
  const command = commands[name];
  if (!command) {
    console.error(`flowscope: unknown command '${name}' (fix: one of ${Object.keys(commands).join(', ')}; see flowscope --help)`);
    process.exitCode = 2;
    return;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return;
  }
  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: rest, options: command.options, strict: true, allowPositionals: command.positionals === true }));
  } catch (err) {
    console.error(`flowscope ${name}: ${(err as Error).message} (fix: see flowscope ${name} --help)`);
    process.exitCode = 2;
    return;
  }
  try {
    process.exitCode = await command.run(values, positionals);
  } catch (err) {
    if (err instanceof FlowscopeError) {
      console.error(err.toOneLine());
      process.exitCode = err.code === ErrorCodes.BAD_FLAG || err.code === ErrorCodes.CONFIG ? 2 : 1;
      return;
    }
    console.error(`flowscope ${name}: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
