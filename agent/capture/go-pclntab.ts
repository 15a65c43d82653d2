// Go's own function table, .gopclntab, which the linker keeps in every Go
// executable, stripped (-ldflags=-s -w) or not: the runtime needs it for
// stack traces and garbage collection. Read here to find function entries
// and ends by name when the ELF symbol table is gone. Go's linker gives it a
// section of its own; an external linker may merge it into .data.rel.ro or
// .rodata, where it is found by its header (locate).
//
// Layout read (runtime/symtab.go, go1.18 onwards; magic 0xfffffff0 for
// go1.18-1.19, 0xfffffff1 for go1.20+, same fields):
//   pcHeader  magic u32, pad u8 u8, minLC u8, ptrSize u8, nfunc, nfiles,
//             textStart, funcnameOffset, cuOffset, filetabOffset,
//             pctabOffset, pclnOffset (pointer-sized; offsets from the header)
//   funcnametab  NUL-terminated names
//   pclntab   functab: nfunc+1 pairs (entryOff u32, funcOff u32), entryOff
//             relative to textStart, the last pair giving the end of text;
//             then _func records at pclntab+funcOff: entryOff u32, nameOff i32, ...
// The section is untrusted input: every offset is checked against the bytes
// read, and a table that does not add up is a reason, never an exception.

export const PCLNTAB_MAGIC_GO118 = 0xfffffff0;
export const PCLNTAB_MAGIC_GO120 = 0xfffffff1;
/** go1.16-1.17 and go1.2-1.15: recognised so the reason can say which layout it is. */
const OLDER_MAGICS = new Map<number, string>([
  [0xfffffffa, 'go1.16-1.17'],
  [0xfffffffb, 'go1.2-1.15'],
]);
const HEADER_BYTES = 8 + 8 * 8;
const FUNCTAB_ENTRY_BYTES = 8;
/** _func: entryOff u32, nameOff i32 are all that is read. */
const FUNC_HEAD_BYTES = 8;
/** Header look-alikes parsed when searching a merged section. */
const MAX_LOCATE_TRIES = 16;

export interface GoFunction {
  name: string;
  /** Link-time virtual address of the first instruction. */
  entry: number;
  /** Link-time virtual address just past the function (the next function's entry: includes alignment padding). */
  end: number;
}

export type PclntabResult = { ok: true; table: GoPclntab } | { ok: false; reason: string };

export class GoPclntab {
  readonly magic: number;
  readonly textStart: number;
  readonly functionCount: number;
  readonly #funcnametab: Buffer;
  readonly #pclntab: Buffer;

  private constructor(magic: number, textStart: number, nfunc: number, funcnametab: Buffer, pclntab: Buffer) {
    this.magic = magic;
    this.textStart = textStart;
    this.functionCount = nfunc;
    this.#funcnametab = funcnametab;
    this.#pclntab = pclntab;
  }

  /**
   * Parses the bytes of a .gopclntab section. relocatedTextStart is asked for
   * the text start when the header's is 0 (a position-independent file whose
   * header is only filled in by a load-time relocation).
   */
  static parse(section: Buffer, relocatedTextStart?: () => number | undefined): PclntabResult {
    if (section.length < HEADER_BYTES) return { ok: false, reason: `pclntab truncated (${section.length} bytes)` };
    const magic = section.readUInt32LE(0);
    if (magic !== PCLNTAB_MAGIC_GO118 && magic !== PCLNTAB_MAGIC_GO120) {
      const older = OLDER_MAGICS.get(magic);
      return { ok: false, reason: older ? `pclntab layout of ${older} not supported (go1.18+)` : `unknown pclntab magic 0x${magic.toString(16)}` };
    }
    const ptrSize = section[7]!;
    if (section[4] !== 0 || section[5] !== 0 || ptrSize !== 8) return { ok: false, reason: `pclntab header not for a 64-bit target (pointer size ${ptrSize})` };
    const field = (i: number): number => {
      const v = section.readBigUInt64LE(8 + 8 * i);
      return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
    };
    const nfunc = field(0);
    let textStart = field(2);
    const funcnameOffset = field(3);
    const cuOffset = field(4);
    const pclnOffset = field(7);
    if (textStart === 0) textStart = relocatedTextStart?.() ?? 0;
    if (textStart <= 0) return { ok: false, reason: 'pclntab has no text start address' };
    const inside = (off: number): boolean => off >= HEADER_BYTES && off <= section.length;
    if (!inside(funcnameOffset) || !inside(cuOffset) || !inside(pclnOffset) || cuOffset < funcnameOffset) {
      return { ok: false, reason: 'pclntab table offsets outside the section' };
    }
    const pclntab = section.subarray(pclnOffset);
    if (nfunc < 0 || (nfunc + 1) * FUNCTAB_ENTRY_BYTES > pclntab.length) {
      return { ok: false, reason: `pclntab function count ${nfunc} does not fit the section` };
    }
    const table = new GoPclntab(magic, textStart, nfunc, section.subarray(funcnameOffset, cuOffset), pclntab);
    const broken = table.#checkFunctab();
    return broken ? { ok: false, reason: broken } : { ok: true, table };
  }

  /**
   * Finds a function table inside a larger section (an externally linked
   * binary merges .gopclntab into .data.rel.ro or .rodata): the first
   * pointer-aligned amd64 header (magic, 0, 0, minLC 1, ptrSize 8) that parses
   * and whose text start isText accepts. Undefined when there is none.
   */
  static locate(bytes: Buffer, isText: (addr: number) => boolean): GoPclntab | undefined {
    // Each candidate costs a pass over its function table: a bounded number are tried.
    let tries = 0;
    for (const magic of [PCLNTAB_MAGIC_GO120, PCLNTAB_MAGIC_GO118]) {
      const pattern = Buffer.alloc(8);
      pattern.writeUInt32LE(magic, 0);
      pattern[6] = 1;
      pattern[7] = 8;
      for (let at = bytes.indexOf(pattern); at >= 0 && tries < MAX_LOCATE_TRIES; at = bytes.indexOf(pattern, at + 1)) {
        if (at % 8 !== 0) continue;
        tries++;
        const found = GoPclntab.parse(bytes.subarray(at));
        if (found.ok && isText(found.table.textStart)) return found.table;
      }
    }
    return undefined;
  }

  /** Entry offsets must not decrease (the runtime binary-searches them). */
  #checkFunctab(): string | undefined {
    let previous = 0;
    for (let i = 0; i <= this.functionCount; i++) {
      const entryOff = this.#pclntab.readUInt32LE(i * FUNCTAB_ENTRY_BYTES);
      if (entryOff < previous) return `pclntab function table out of order at entry ${i}`;
      previous = entryOff;
    }
    return undefined;
  }

  /** The i-th function, or a reason when its record does not add up. */
  #function(i: number): GoFunction | string {
    const at = i * FUNCTAB_ENTRY_BYTES;
    const entryOff = this.#pclntab.readUInt32LE(at);
    const funcOff = this.#pclntab.readUInt32LE(at + 4);
    const endOff = this.#pclntab.readUInt32LE(at + FUNCTAB_ENTRY_BYTES);
    if (funcOff + FUNC_HEAD_BYTES > this.#pclntab.length) return `pclntab function ${i}: record outside the section`;
    if (this.#pclntab.readUInt32LE(funcOff) !== entryOff) return `pclntab function ${i}: record does not match its table entry`;
    const nameOff = this.#pclntab.readInt32LE(funcOff + 4);
    const names = this.#funcnametab;
    const nameEnd = nameOff >= 0 && nameOff < names.length ? names.indexOf(0, nameOff) : -1;
    if (nameEnd < 0) return `pclntab function ${i}: name outside the name table`;
    return {
      name: names.subarray(nameOff, nameEnd).toString('utf8'),
      entry: this.textStart + entryOff,
      end: this.textStart + endOff,
    };
  }

  /** Every function in table order; stops at the first record that does not add up and returns its reason. */
  functions(): { functions: GoFunction[]; broken?: string } {
    const functions: GoFunction[] = [];
    for (let i = 0; i < this.functionCount; i++) {
      const fn = this.#function(i);
      if (typeof fn === 'string') return { functions, broken: fn };
      functions.push(fn);
    }
    return { functions };
  }

  /**
   * The functions with the given names (first definition of each). Names are
   * compared as bytes in the name table before any record is decoded, so a
   * lookup costs one pass over the table and no per-function string.
   */
  find(names: readonly string[]): Map<string, GoFunction> {
    const wanted = new Map<number, string>();
    for (const name of names) {
      const needle = Buffer.from(`${name}\0`, 'utf8');
      for (let at = this.#funcnametab.indexOf(needle); at >= 0; at = this.#funcnametab.indexOf(needle, at + 1)) {
        // A whole name starts the table or follows the previous name's NUL.
        if (at === 0 || this.#funcnametab[at - 1] === 0) wanted.set(at, name);
      }
    }
    const found = new Map<string, GoFunction>();
    if (wanted.size === 0) return found;
    for (let i = 0; i < this.functionCount && found.size < names.length; i++) {
      const funcOff = this.#pclntab.readUInt32LE(i * FUNCTAB_ENTRY_BYTES + 4);
      if (funcOff + FUNC_HEAD_BYTES > this.#pclntab.length) continue;
      const name = wanted.get(this.#pclntab.readInt32LE(funcOff + 4));
      if (name === undefined || found.has(name)) continue;
      const fn = this.#function(i);
      if (typeof fn !== 'string') found.set(name, fn);
    }
    return found;
  }
}
