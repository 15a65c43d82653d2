// Colour for people, plain text for pipes: ANSI only on a TTY, never with
// NO_COLOR or --no-color.
export interface Style {
  readonly enabled: boolean;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

function wrap(enabled: boolean, open: number, close: number): (text: string) => string {
  return enabled ? (text) => `\x1b[${open}m${text}\x1b[${close}m` : (text) => text;
}

export function createStyle(stream: NodeJS.WriteStream, noColor: boolean): Style {
  const enabled = stream.isTTY === true && !noColor && process.env.NO_COLOR === undefined && process.env.TERM !== 'dumb';
  return {
    enabled,
    red: wrap(enabled, 31, 39),
    green: wrap(enabled, 32, 39),
    yellow: wrap(enabled, 33, 39),
    cyan: wrap(enabled, 36, 39),
    dim: wrap(enabled, 2, 22),
    bold: wrap(enabled, 1, 22),
  };
}

export const plainStyle: Style = createStyle({ isTTY: false } as NodeJS.WriteStream, true);

/** Pads or cuts `text` to `width` columns (ANSI-free text). */
export function fit(text: string, width: number): string {
  if (text.length > width) return `${text.slice(0, Math.max(0, width - 1))}…`;
  return text.padEnd(width);
}

/** Aligned columns: widths from the widest cell, last column unpadded. */
export function alignRows(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}
