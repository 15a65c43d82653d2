// Runs a command with no capabilities at all while keeping uid 0, so it can
// still read the checkout wherever CI cloned it (e.g. a 0700 temp directory):
// securebits noroot stops exec from granting root its capabilities.
export function unprivileged(command: string, args: string[]): [string, string[]] {
  return ['setpriv', ['--securebits', '+noroot,+noroot_locked', '--bounding-set', '-all', '--inh-caps', '-all', command, ...args]];
}
