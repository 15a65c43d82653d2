// x86-64 instruction lengths, enough to walk a compiled function from its
// first byte and find its RET instructions. Go functions cannot get return
// probes (Go moves goroutine stacks, and a uretprobe rewrites the return
// address on the stack), so Read is probed at each RET instead; a 0xC3 byte
// inside another instruction's immediate or displacement must not be taken
// for one, hence a real length decoder rather than a byte scan.

/** One-byte opcodes that take a ModRM byte. */
const MODRM_1 = new Set<number>([
  ...range(0x00, 0x03), ...range(0x08, 0x0b), ...range(0x10, 0x13), ...range(0x18, 0x1b),
  ...range(0x20, 0x23), ...range(0x28, 0x2b), ...range(0x30, 0x33), ...range(0x38, 0x3b),
  0x63, 0x69, 0x6b, ...range(0x80, 0x8f), 0xc0, 0xc1, 0xc6, 0xc7, ...range(0xd0, 0xd3),
  ...range(0xd8, 0xdf), 0xf6, 0xf7, 0xfe, 0xff,
]);

/** One-byte opcodes followed by an 8-bit immediate or displacement. */
const IMM8_1 = new Set<number>([
  0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x6a, 0x6b, ...range(0x70, 0x7f), 0x80, 0x83,
  0xa8, ...range(0xb0, 0xb7), 0xc0, 0xc1, 0xc6, 0xcd, 0xd4, 0xd5, ...range(0xe0, 0xe7), 0xeb,
]);

/** One-byte opcodes followed by a 16/32-bit immediate (16 with the 0x66 prefix). */
const IMMZ_1 = new Set<number>([0x05, 0x0d, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x68, 0x69, 0x81, 0xa9, 0xc7]);

/** Two-byte (0F xx) opcodes without ModRM. */
const NO_MODRM_0F = new Set<number>([
  0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0e, ...range(0x30, 0x37), 0x77,
  ...range(0x80, 0x8f), 0xa0, 0xa1, 0xa2, 0xa8, 0xa9, 0xaa, ...range(0xc8, 0xcf),
]);

/** Two-byte (0F xx) opcodes with an 8-bit immediate after ModRM. */
const IMM8_0F = new Set<number>([0x0f, 0x70, 0x71, 0x72, 0x73, 0xa4, 0xac, 0xba, 0xc2, 0xc4, 0xc5, 0xc6]);

const LEGACY_PREFIXES = new Set<number>([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

export interface Instruction {
  /** Offset of the first byte (prefixes included) within the code buffer. */
  offset: number;
  length: number;
  /** Opcode byte after prefixes (for 0F-map opcodes, the second byte plus 0x100). */
  opcode: number;
}

/** Length of the ModRM byte and what follows it (SIB, displacement), starting at code[at]. */
function modrmLength(code: Uint8Array, at: number): number {
  if (at >= code.length) throw new RangeError('truncated ModRM');
  const modrm = code[at]!;
  const mod = modrm >> 6;
  const rm = modrm & 7;
  let len = 1;
  if (mod === 3) return len;
  if (rm === 4) {
    if (at + 1 >= code.length) throw new RangeError('truncated SIB');
    const sib = code[at + 1]!;
    len += 1;
    if (mod === 0 && (sib & 7) === 5) len += 4;
  } else if (mod === 0 && rm === 5) {
    len += 4; // RIP-relative
  }
  if (mod === 1) len += 1;
  else if (mod === 2) len += 4;
  return len;
}

/** Decodes the instruction at code[at] (64-bit mode). Throws RangeError on bytes it cannot decode. */
export function decodeInstruction(code: Uint8Array, at: number): Instruction {
  let i = at;
  let operand16 = false;
  let address32 = false;
  let rexW = false;
  const byte = (): number => {
    if (i >= code.length) throw new RangeError(`truncated instruction at ${at}`);
    return code[i++]!;
  };
  let op = byte();
  while (LEGACY_PREFIXES.has(op)) {
    if (op === 0x66) operand16 = true;
    if (op === 0x67) address32 = true;
    op = byte();
  }
  if (op >= 0x40 && op <= 0x4f) {
    rexW = (op & 8) !== 0;
    op = byte();
  }
  const immz = operand16 ? 2 : 4;

  // VEX (C4/C5) and EVEX (62): the map and prefix bits live in the prefix; always ModRM.
  if (op === 0xc4 || op === 0xc5 || op === 0x62) {
    let map: number;
    if (op === 0xc5) {
      byte();
      map = 1;
    } else if (op === 0xc4) {
      map = byte() & 0x1f;
      byte();
    } else {
      map = byte() & 3;
      byte();
      byte();
    }
    const opcode = byte();
    i += modrmLength(code, i);
    if (map === 3 || (map === 1 && IMM8_0F.has(opcode))) i += 1;
    return finish(code, at, i, 0x200 + opcode);
  }

  if (op === 0x0f) {
    const op2 = byte();
    if (op2 === 0x38) {
      byte();
      i += modrmLength(code, i);
      return finish(code, at, i, 0x100 + op2);
    }
    if (op2 === 0x3a) {
      byte();
      i += modrmLength(code, i) + 1;
      return finish(code, at, i, 0x100 + op2);
    }
    if (op2 >= 0x80 && op2 <= 0x8f) return finish(code, at, i + 4, 0x100 + op2); // Jcc rel32
    if (!NO_MODRM_0F.has(op2)) i += modrmLength(code, i);
    if (IMM8_0F.has(op2)) i += 1;
    return finish(code, at, i, 0x100 + op2);
  }

  if (MODRM_1.has(op)) {
    const reg = i < code.length ? (code[i]! >> 3) & 7 : 0;
    i += modrmLength(code, i);
    // TEST r/m, imm is /0 (and /1) of the F6/F7 groups; the rest take no immediate.
    if (op === 0xf6 && reg <= 1) i += 1;
    if (op === 0xf7 && reg <= 1) i += immz;
  }
  if (IMM8_1.has(op)) i += 1;
  if (IMMZ_1.has(op)) i += immz;
  if (op >= 0xb8 && op <= 0xbf) i += rexW ? 8 : immz; // MOV r, imm (imm64 with REX.W)
  if (op >= 0xa0 && op <= 0xa3) i += address32 ? 4 : 8; // MOV with a moffs address
  if (op === 0xe8 || op === 0xe9) i += 4; // CALL/JMP rel32
  if (op === 0xc2 || op === 0xca) i += 2; // RET imm16
  if (op === 0xc8) i += 3; // ENTER imm16, imm8
  return finish(code, at, i, op);
}

function finish(code: Uint8Array, at: number, end: number, opcode: number): Instruction {
  if (end > code.length) throw new RangeError(`truncated instruction at ${at}`);
  if (end - at > 15) throw new RangeError(`instruction at ${at} longer than 15 bytes`);
  return { offset: at, length: end - at, opcode };
}

/** Every instruction of code, in order. Throws RangeError where decoding fails. */
export function decodeAll(code: Uint8Array): Instruction[] {
  const out: Instruction[] = [];
  for (let at = 0; at < code.length; ) {
    const insn = decodeInstruction(code, at);
    out.push(insn);
    at += insn.length;
  }
  return out;
}

/** Offsets (within code) of the near RET instructions (C3, C2 iw) of one function's machine code. */
export function findReturns(code: Uint8Array): number[] {
  return decodeAll(code)
    .filter((insn) => insn.opcode === 0xc3 || insn.opcode === 0xc2)
    .map((insn) => insn.offset);
}
