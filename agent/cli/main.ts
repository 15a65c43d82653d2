// flowscope command line. Errors are one line with the fix; never a stack trace.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import { runAgent } from './agent-command.js';
import { runDoctor } from './doctor-command.js';
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
  listen: { type: 'string', default: '127.0.0.1:7070' },
  'max-capture-bytes': { type: 'string', default: '16384' },
  'max-body-bytes': { type: 'string', default: '0' },
  'no-tls-probes': { type: 'boolean', default: false },
  duration: { type: 'string' },
  'log-level': { type: 'string' },
};

const commands: Record<string, Command> = {
  agent: {
    summary: 'run the capture agent (needs root)',
    usage: `flowscope agent [options]

Loads the eBPF programs, captures HTTP/1.x calls (plaintext and OpenSSL TLS) on
this host and writes one JSON line per flow.

Options:
  --flows-out PATH       write every flow as a JSON line to PATH ('-' for stdout)
  --listen HOST:PORT     status port with /metrics, /healthz, /readyz, /v1/status
                         (default 127.0.0.1:7070; 'off' to disable)
  --max-capture-bytes N  payload bytes captured per syscall or TLS call (default 16384, max 65536)
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
  sudo flowscope agent --flows-out /var/log/flowscope/flows.jsonl --listen 127.0.0.1:7070
  sudo flowscope agent --flows-out - --proto-path ./protos --grpc-progress-interval 30`,
    options: {
      ...captureOptions, 'flows-out': { type: 'string' }, record: { type: 'string' },
      'grpc-progress-interval': { type: 'string', default: '60' }, 'grpc-decode': { type: 'string' }, 'proto-path': { type: 'string' },
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
    usage: `flowscope replay FILE [--realtime] [--flows-out PATH]

Feeds a recording made by flowscope record (or agent --record) through the
same decoders and flow assembly as live capture and writes the flows as JSON
lines (default stdout). Full speed by default; --realtime paces it as recorded.

Example:
  flowscope replay /tmp/capture.fsrec --flows-out /tmp/flows.jsonl`,
    options: { realtime: { type: 'boolean', default: false }, 'flows-out': { type: 'string' } },
    positionals: true,
    run: (v, p) => runReplay(v, p),
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
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
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
      process.exitCode = err.code === ErrorCodes.BAD_FLAG ? 2 : 1;
      return;
    }
    console.error(`flowscope ${name}: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
