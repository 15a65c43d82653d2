// Header lookups that run per flow. headerNamed: one header's value by lower-case name: what decoders/message.ts headerValue
// returns (the first field whose name matches ignoring case), with an indexed
// loop and a length check before any case folding, since it runs per flow.
import type { HeaderField } from '../../../decoders/message.js';

export function headerNamed(headers: readonly HeaderField[], lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!;
    const name = field[0];
    if (name.length === lowerName.length && (name === lowerName || name.toLowerCase() === lowerName)) return field[1];
  }
  return undefined;
}

/**
 * Index n is true when one of `lowerNames` has length n: a header whose length
 * is not in the table cannot lower-case to any of them (lower-casing never
 * shortens a string, and the one mapping that lengthens it, U+0130, yields a
 * combining mark no header name here holds), so it is skipped unfolded.
 */
export function lengthsOf(lowerNames: Iterable<string>): boolean[] {
  const lengths: boolean[] = [];
  for (const name of lowerNames) lengths[name.length] = true;
  return lengths;
}
