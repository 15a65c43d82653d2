// Which connections the agent looks at (the config's capture include/exclude lists):
// decided once per connection, when it opens, by its ports and process name.
import { compilePattern } from '../identity/naming-rules.js';
import type { FlowscopeConfig, PortRange } from '../config/schema.js';
import type { ConnOpenEvent } from './socket-event.js';

export type ConnectionAdmission = (open: ConnOpenEvent) => boolean;

/** The admission test for a config, or undefined when everything is admitted. */
export function captureFilter(capture: FlowscopeConfig['capture']): ConnectionAdmission | undefined {
  const { includePorts, excludePorts, includeProcesses, excludeProcesses } = capture;
  if (includePorts.length + excludePorts.length + includeProcesses.length + excludeProcesses.length === 0) return undefined;
  const include = includeProcesses.map((p) => compilePattern(p));
  const exclude = excludeProcesses.map((p) => compilePattern(p));
  const inRanges = (ranges: PortRange[], open: ConnOpenEvent) =>
    ranges.some((r) => (open.localPort >= r.from && open.localPort <= r.to) || (open.remotePort >= r.from && open.remotePort <= r.to));
  return (open) => {
    if (includePorts.length > 0 && !inRanges(includePorts, open)) return false;
    if (inRanges(excludePorts, open)) return false;
    if (include.length > 0 && !include.some((re) => re.test(open.comm))) return false;
    return !exclude.some((re) => re.test(open.comm));
  };
}
