// -o table|compact|json|jsonl, chosen once: each command describes its record
// (compact line, table header and row) and the printer handles the format.
// Without --follow, table columns fit the widest cell and json is one array;
// following, table columns have fixed widths and json objects come one by one.
import { ErrorCodes, FlowscopeError } from '../../errors.js';
import { alignRows, fit } from './style.js';

export type OutputFormat = 'table' | 'compact' | 'json' | 'jsonl';

export interface RecordView<T> {
  compact(record: T): string;
  header: string[];
  row(record: T): string[];
  /** Column widths for a followed table. */
  widths: number[];
}

export interface RecordPrinter<T> {
  print(record: T): void;
  /** Writes what was held back (aligned table, json array). */
  end(): void;
}

export function parseOutputFormat(raw: unknown, allowed: readonly OutputFormat[] = ['table', 'compact', 'json', 'jsonl']): OutputFormat {
  const value = (raw as string | undefined) ?? 'compact';
  if (!(allowed as readonly string[]).includes(value)) {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, `-o must be one of ${allowed.join(', ')}, got '${value}'`, `pass e.g. -o ${allowed[0]}`);
  }
  return value as OutputFormat;
}

export function createPrinter<T>(format: OutputFormat, follow: boolean, view: RecordView<T>, write: (text: string) => void): RecordPrinter<T> {
  switch (format) {
    case 'jsonl':
      return { print: (r) => write(`${JSON.stringify(r)}\n`), end: () => {} };
    case 'json': {
      if (follow) return { print: (r) => write(`${JSON.stringify(r, null, 2)}\n`), end: () => {} };
      const held: T[] = [];
      return { print: (r) => held.push(r), end: () => write(`${JSON.stringify(held, null, 2)}\n`) };
    }
    case 'compact':
      return { print: (r) => write(`${view.compact(r)}\n`), end: () => {} };
    case 'table': {
      if (follow) {
        const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : fit(c, view.widths[i] ?? 12))).join('  ').trimEnd();
        let headerDone = false;
        return {
          print: (r) => {
            if (!headerDone) write(`${line(view.header)}\n`);
            headerDone = true;
            write(`${line(view.row(r))}\n`);
          },
          end: () => {},
        };
      }
      const rows: string[][] = [view.header];
      return {
        print: (r) => rows.push(view.row(r)),
        end: () => {
          if (rows.length > 1) write(`${alignRows(rows).join('\n')}\n`);
        },
      };
    }
  }
}
