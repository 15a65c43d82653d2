// `flowscope map`: the service graph the agent has learnt.
import type { ParseArgsConfig } from 'node:util';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import { requestJson, serverTarget } from '../server/api-client.js';
import { connectionHelp, connectionOptions } from './flows-command.js';
import { asServiceMap, renderMapDot, renderMapMermaid, renderMapText, type MapFormat } from './render/service-map.js';
import { createStyle } from './render/style.js';

export const mapOptions: NonNullable<ParseArgsConfig['options']> = {
  output: { type: 'string', short: 'o', default: 'text' },
  ...connectionOptions,
};

export const mapUsage = `flowscope map [-o text|json|dot|mermaid]

Prints the service graph the agent has learnt: workloads as nodes, and per
edge the port, protocol, TLS, request rate, error rate and latency.

  -o FORMAT   text (default, one line per edge), json (as /v1/map serves it),
              dot (Graphviz: flowscope map -o dot | dot -Tsvg > map.svg),
              mermaid (paste into Markdown)

${connectionHelp}

Examples:
  flowscope map
  flowscope map -o dot | dot -Tpng > map.png
  flowscope map -o mermaid --server https://node-1:7070 --token "$TOKEN"`;

const FORMATS: readonly MapFormat[] = ['text', 'json', 'dot', 'mermaid'];

export async function runMap(values: Record<string, unknown>): Promise<number> {
  const format = String(values.output) as MapFormat;
  if (!FORMATS.includes(format)) {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, `-o must be one of ${FORMATS.join(', ')}, got '${format}'`, 'pass e.g. -o dot');
  }
  const target = serverTarget(values);
  const raw = await requestJson<unknown>(target, '/v1/map', 'fetching the service map');
  const map = asServiceMap(raw);
  if (!map) {
    throw new FlowscopeError(ErrorCodes.OUTPUT, 'the agent\'s /v1/map is not a {nodes, edges} document', 'upgrade the agent and the CLI together');
  }
  const text = format === 'json' ? `${JSON.stringify(map, null, 2)}\n`
    : format === 'dot' ? renderMapDot(map)
    : format === 'mermaid' ? renderMapMermaid(map)
    : renderMapText(map, createStyle(process.stdout, values['no-color'] === true));
  process.stdout.write(text);
  return 0;
}
