// Which header names a per-flow loop must look at: a name whose length no
// wanted name has is skipped before any case folding.

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
