// The config file as an operator meets it: every mistake named with its key and fix, all at
// once; env and flags layered over the file; the shipped example valid and complete.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { envName, printConfig, resolveConfig } from '../../../agent/config/load-config.js';
import { defaultConfig, detectorKinds, schemaLeaves, sinkTypes } from '../../../agent/config/schema.js';
import { validateSinkConfigs } from '../../../agent/sinks/config.js';

const examplePath = fileURLToPath(new URL('../../../packaging/flowscope.example.yaml', import.meta.url));

function errorsOf(text: string): string[] {
  return resolveConfig({ file: { path: 'config.yaml', text } }).errors;
}

const badConfigs: Array<[string, string, string]> = [
  ['a capture size out of range', 'capture:\n  maxCaptureBytes: 1000000\n',
    'capture.maxCaptureBytes: must be 64-65536 bytes, got 1000000 (fix: write e.g. maxCaptureBytes: 16KiB)'],
  ['a size with an unknown unit', 'capture:\n  maxBodyBytes: 12 bananas\n',
    'capture.maxBodyBytes: must be a byte count or a size like "64KiB", got "12 bananas" (fix: write bytes or a unit B, KiB, MiB, GiB, KB, MB, GB, e.g. maxBodyBytes: 0)'],
  ['a snake_case key', 'capture:\n  max_capture_bytes: 4096\n',
    'capture.max_capture_bytes: is not a known key (fix: did you mean capture.maxCaptureBytes?)'],
  ['a misspelt section', 'captur:\n  tlsProbes: true\n',
    'captur: is not a known key (fix: did you mean capture?)'],
  ['"yes" for a boolean (YAML 1.2 reads it as text)', 'capture:\n  tlsProbes: yes\n',
    'capture.tlsProbes: must be true or false, got "yes" (fix: write tlsProbes: true or tlsProbes: false)'],
  ['an unknown engine', 'capture:\n  engine: ebpf\n',
    'capture.engine: must be one of auto, libbpf, bpftrace, got "ebpf" (fix: write e.g. engine: auto)'],
  ['a port above 65535', 'capture:\n  includePorts: [80, 70000]\n',
    'capture.includePorts[1]: must be a port 1-65535 or a range "FROM-TO", got 70000 (fix: write e.g. 8080 or "8000-8999")'],
  ['a reversed port range', 'capture:\n  excludePorts: ["9000-8000"]\n',
    'capture.excludePorts[0]: must be a port 1-65535 or a range "FROM-TO", got "9000-8000" (fix: write e.g. 8080 or "8000-8999")'],
  ['a process name longer than comm', 'capture:\n  excludeProcesses: ["a-very-long-process-name"]\n',
    'capture.excludeProcesses[0]: is 24 characters, but process names (comm) are cut to 15, so "a-very-long-process-name" never matches (fix: write a process name (comm, at most 15 characters) or a glob, e.g. "nginx" or "python*")'],
  ['a section given a scalar', 'capture: 5\n',
    'capture: must be a section of keys, got 5 (fix: indent its keys under capture: (includePorts, excludePorts, includeProcesses, ...))'],
  ['a duration in words', 'baseline:\n  learnWindow: 24 hours\n',
    'baseline.learnWindow: must be a duration like "30s", "5m" or "24h", got "24 hours" (fix: write a number with a unit (ms, s, m, h, d), e.g. learnWindow: 24h)'],
  ['a duration out of range', 'baseline:\n  learnWindow: 100d\n',
    'baseline.learnWindow: must be 1s-90d, got "100d" (fix: write e.g. learnWindow: 24h)'],
  ['a route pattern without a leading slash', 'baseline:\n  routePatterns: ["users/{id}"]\n',
    'baseline.routePatterns[0]: must start with "/", got "users/{id}" (fix: write a path template starting with "/", parameters in braces, e.g. "/users/{id}/orders")'],
  ['listening off loopback without a token', 'stream:\n  listen: 0.0.0.0:7070\n',
    'stream.tokenFile: must be set when stream.listen (0.0.0.0:7070) is not loopback: off loopback every request needs a bearer token (fix: write a random token to a file readable only by flowscope and set tokenFile to its path)'],
  ['a listen address without a port', 'stream:\n  listen: localhost\n',
    'stream.listen: must be HOST:PORT or "off", got "localhost" (fix: write e.g. listen: "127.0.0.1:7070" (port 0-65535; IPv6 as "[::1]:7070"))'],
  ['a TLS certificate without its key', 'stream:\n  tlsCert: /etc/flowscope/tls.crt\n',
    'stream.tlsKey: must be set together with the other of tlsCert/tlsKey (fix: set stream.tlsKey too, or remove both for plain HTTP)'],
  ['schema decoding without a schema', 'grpc:\n  decode: schema\n',
    'grpc.protoPath: must be set when grpc.decode is schema (fix: set protoPath to a .proto directory or FileDescriptorSet, or use decode: schemaless)'],
  ['a naming rule with a bad CIDR', 'identity:\n  namingRules:\n    - match: { cidr: "198.18.0.0/33" }\n      workload: partner\n',
    'identity.namingRules[0].match.cidr: must be an address block like "198.18.0.0/24", got "198.18.0.0/33" (fix: write an IPv4 or IPv6 address and a prefix length)'],
  ['a naming rule that matches nothing', 'identity:\n  namingRules:\n    - match: {}\n      workload: web\n',
    'identity.namingRules[0].match: must be an object with at least one of comm, exe, cgroup, cidr, port, got {} (fix: write e.g. match: { comm: "nginx" })'],
  ['a ratio above 1', 'detectors:\n  scan:\n    minFailureRatio: 2\n',
    'detectors.scan.minFailureRatio: must be 0-1, got 2 (fix: write e.g. minFailureRatio: 0.7)'],
  ['an unknown detector', 'detectors:\n  sqli:\n    enabled: true\n',
    'detectors.sqli: is not a known key (fix: remove it; known keys here: newEdge, newEndpoint, newProtocol, plaintext, authFailureBurst, scan, enumeration, rateSpike, errorSpike, latencySpike, injection, sensitiveData, jwtWeakness, largeTransfer)'],
  ['an unknown sink type', 'sinks:\n  - type: kafka\n',
    'sinks[0].type: must be one of syslog, splunk_hec, elasticsearch, webhook, file, got "kafka" (fix: write e.g. type: syslog)'],
  ['a fraction where a whole number belongs', 'metrics:\n  maxSeries: 1.5\n',
    'metrics.maxSeries: must be a whole number from 100 to 1000000, got 1.5 (fix: write e.g. maxSeries: 10000)'],
  ['a list where sections belong', '- capture\n- stream\n',
    'config.yaml: must be a mapping of sections (capture:, stream:, ...), got ["capture","stream"] (fix: start from packaging/flowscope.example.yaml)'],
  ['a duplicated key', 'stream:\n  history: 10\n  history: 20\n',
    'config.yaml:3:3: is not valid YAML: Map keys must be unique (fix: correct the YAML syntax at that line (indent with spaces, quote values holding ": " or "#"))'],
];

describe('config validation', () => {
  it.each(badConfigs)('rejects %s with one line naming the key and the fix', (_what, text, expected) => {
    expect(errorsOf(text)).toEqual([expected]);
  });

  it('reports every error at once, in file order', () => {
    const errors = errorsOf('capture:\n  maxCaptureBytes: 10\n  engine: ebpf\nstream:\n  history: -1\n');
    expect(errors).toEqual([
      'capture.maxCaptureBytes: must be 64-65536 bytes, got 10 (fix: write e.g. maxCaptureBytes: 16KiB)',
      'capture.engine: must be one of auto, libbpf, bpftrace, got "ebpf" (fix: write e.g. engine: auto)',
      'stream.history: must be 0-1000000, got -1 (fix: write e.g. history: 10000)',
    ]);
  });

  it('passes the sink-specific keys to the sinks validator and keeps its defaults', () => {
    expect(errorsOf('sinks:\n  - type: syslog\n    port: 0\n')).toEqual([
      'sinks[0].host: is required (fix: set host to the syslog receiver address)',
      "sinks[0].port: must be 1-65535 (fix: use the receiver's TCP port, e.g. 6514 for TLS)",
    ]);
    const { config, errors } = resolveConfig({ file: { path: 'c.yaml', text: 'sinks:\n  - type: file\n    path: /tmp/a.jsonl\n    kinds: [anomalies]\n' } });
    expect(errors).toEqual([]);
    expect(config.sinks[0]).toMatchObject({ type: 'file', path: '/tmp/a.jsonl', format: 'json', name: 'file-0' });
  });

  it('knows exactly the sink types agent/sinks implements', () => {
    for (const type of sinkTypes) expect(validateSinkConfigs([{ type }]).errors.filter((e) => e.startsWith('sinks[0].type'))).toEqual([]);
    expect(validateSinkConfigs([{ type: 'kafka' }]).errors.some((e) => e.startsWith('sinks[0].type'))).toBe(true);
  });

  it('treats an empty file and empty sections as the defaults', () => {
    expect(resolveConfig({ file: { path: 'c.yaml', text: '' } })).toEqual({ config: defaultConfig(), issues: [], errors: [] });
    expect(resolveConfig({ file: { path: 'c.yaml', text: 'capture:\nstream:\n' } }).config).toEqual(defaultConfig());
  });

  it('normalises durations, sizes and port ranges', () => {
    const { config, errors } = resolveConfig({
      file: { path: 'c.yaml', text: 'capture:\n  maxCaptureBytes: 32KiB\n  includePorts: [443, "8000-8100"]\nbaseline:\n  learnWindow: 1h30m\n' },
    });
    expect(errors).toEqual([]);
    expect(config.capture.maxCaptureBytes).toBe(32768);
    expect(config.capture.includePorts).toEqual([{ from: 443, to: 443 }, { from: 8000, to: 8100 }]);
    expect(config.baseline.learnWindow).toBe(90 * 60_000);
  });
});

describe('config layering', () => {
  const file = { path: 'c.yaml', text: 'capture:\n  maxCaptureBytes: 8KiB\nstream:\n  listen: 127.0.0.1:7071\n  history: 50\n' };

  it('names every env variable FLOWSCOPE_<SECTION>_<KEY>', () => {
    expect(envName('stream.listen')).toBe('FLOWSCOPE_STREAM_LISTEN');
    expect(envName('capture.maxCaptureBytes')).toBe('FLOWSCOPE_CAPTURE_MAX_CAPTURE_BYTES');
    expect(envName('detectors.authFailureBurst.minFailures')).toBe('FLOWSCOPE_DETECTORS_AUTH_FAILURE_BURST_MIN_FAILURES');
  });

  it('applies defaults < file < env < flags', () => {
    const env = { FLOWSCOPE_STREAM_LISTEN: '127.0.0.1:7072', FLOWSCOPE_CAPTURE_MAX_CAPTURE_BYTES: '4096', FLOWSCOPE_CAPTURE_EXCLUDE_PORTS: '22, 5432-5433', FLOWSCOPE_DETECTORS_SCAN_ENABLED: 'false' };
    const flags = { 'max-capture-bytes': '2048', 'no-tls-probes': true, listen: undefined };
    const { config, errors } = resolveConfig({ file, env, flags });
    expect(errors).toEqual([]);
    expect(config.capture.maxCaptureBytes).toBe(2048);
    expect(config.stream.listen).toBe('127.0.0.1:7072');
    expect(config.stream.history).toBe(50);
    expect(config.capture.tlsProbes).toBe(false);
    expect(config.capture.excludePorts).toEqual([{ from: 22, to: 22 }, { from: 5432, to: 5433 }]);
    expect(config.detectors.scan.enabled).toBe(false);
    expect(config.stream.maxClientsPerIp).toBe(16);
  });

  it('names the variable or flag a bad value came from, and unknown config variables', () => {
    const { errors } = resolveConfig({
      env: { FLOWSCOPE_STREAM_LISTEN: 'nowhere', FLOWSCOPE_CAPTURE_MAX_CAPTUR_BYTES: '1', FLOWSCOPE_LOG_LEVEL: 'debug' },
      flags: { 'grpc-progress-interval': 'soon' },
    });
    expect(errors).toEqual([
      'stream.listen (from FLOWSCOPE_STREAM_LISTEN): must be HOST:PORT or "off", got "nowhere" (fix: write e.g. listen: "127.0.0.1:7070" (port 0-65535; IPv6 as "[::1]:7070"))',
      'FLOWSCOPE_CAPTURE_MAX_CAPTUR_BYTES: is not a known config variable (fix: did you mean FLOWSCOPE_CAPTURE_MAX_CAPTURE_BYTES?)',
      'grpc.progressIntervalSeconds (from --grpc-progress-interval): must be a whole number from 0 to 86400, got "soon" (fix: write e.g. progressIntervalSeconds: 60)',
    ]);
  });

  it('decodes gRPC with the schema when only --proto-path is given, as the flag always did', () => {
    expect(resolveConfig({ flags: { 'proto-path': '/protos' } }).config.grpc.decode).toBe('schema');
    expect(resolveConfig({ flags: { 'proto-path': '/protos', 'grpc-decode': 'off' } }).config.grpc.decode).toBe('off');
  });
});

describe('the shipped example config', () => {
  const text = readFileSync(examplePath, 'utf8');

  it('validates and equals the defaults', () => {
    const { config, errors } = resolveConfig({ file: { path: examplePath, text } });
    expect(errors).toEqual([]);
    expect(config).toEqual(defaultConfig());
  });

  it('documents every key', () => {
    const tree = parse(text) as Record<string, unknown>;
    const missing = schemaLeaves().map(([path]) => path).filter((path) => {
      let node: unknown = tree;
      for (const part of path.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
      return node === undefined;
    });
    expect(missing).toEqual([]);
  });

  it('has a detector section for every anomaly kind', () => {
    expect(Object.keys(defaultConfig().detectors).sort()).toEqual(Object.keys(detectorKinds).sort());
  });

  it('prints an effective config that reads back to the same config', () => {
    const { config } = resolveConfig({ file: { path: 'c.yaml', text: 'capture:\n  includePorts: [80, "8000-8100"]\n  maxBodyBytes: 100\nbaseline:\n  learnWindow: 7d\n' } });
    const printed = printConfig(config);
    expect(printed).toMatch(/learnWindow: 7d/);
    expect(printed).toMatch(/maxCaptureBytes: 16KiB/);
    expect(resolveConfig({ file: { path: 'printed.yaml', text: printed } })).toEqual({ config, issues: [], errors: [] });
  });
});
