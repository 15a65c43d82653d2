// Where to probe OpenSSL: the internal functions its exports share.
//
// SSL_read and SSL_read_ex both call ssl_read_internal(s, buf, num, size_t
// *readbytes), SSL_write and SSL_write_ex ssl_write_internal, with the
// arguments of the _ex form. Probing those two functions instead of the four
// exports sees the same calls, and moves the probes off the exports' first
// instruction: the kernel single-steps a probed instruction it cannot emulate
// (SSL_read starts with `sub $0x18,%rsp`) out of line, the costliest kind of
// probe hit, while the internal functions start with pushes, which kernels
// since 6.10 emulate (docs/performance.md has the measured difference).
//
// The functions are not exported, so they are found in the machine code:
// - SSL_read makes exactly one direct call into the file's .text (its other
//   calls go through the PLT: errors, the stack protector);
// - SSL_read_ex reaches that same function by a direct call or jump before
//   any instruction that could change an argument register (rdi, rsi, rdx,
//   rcx), so the function takes SSL_read_ex's own four arguments;
// and the same for SSL_write. Where either check fails (another OpenSSL
// layout, BoringSSL, no _ex forms) the exports are probed as before.
import type { OpensslCore } from '../../native/loader.js';
import { ElfError, type ElfFile, type ElfSymbol } from './tls-elf.js';
import { decodeAll, decodeInstruction, type Instruction } from './tls-x86.js';

export const OPENSSL_CORE_SYMBOLS = ['SSL_read', 'SSL_read_ex', 'SSL_write', 'SSL_write_ex'] as const;

/** Larger than any build of these wrappers; a bigger "function" is not one. */
const MAX_WRAPPER_BYTES = 4096;

const CALL_REL32 = 0xe8;
const JMP_REL32 = 0xe9;

/** A function's code and where it is loaded. */
export interface FunctionCode {
  vaddr: number;
  code: Uint8Array;
}

/**
 * File offsets of the functions SSL_read/SSL_read_ex and SSL_write/SSL_write_ex
 * share, or undefined when the machine code does not show them.
 */
export function findOpensslCore(elf: ElfFile, symbols: ReadonlyMap<string, ElfSymbol>): OpensslCore | undefined {
  const text = elf.section('.text');
  if (!text) return undefined;
  const inText = (vaddr: number): boolean => vaddr >= text.addr && vaddr < text.addr + text.size;
  try {
    const code = (name: string): FunctionCode | undefined => {
      const sym = symbols.get(name);
      if (!sym || sym.size === 0 || sym.size > MAX_WRAPPER_BYTES) return undefined;
      return { vaddr: sym.value, code: elf.readVaddr(sym.value, sym.size) };
    };
    const read = sharedCallee(code('SSL_read'), code('SSL_read_ex'), inText);
    const write = sharedCallee(code('SSL_write'), code('SSL_write_ex'), inText);
    if (read === undefined || write === undefined || read === write) return undefined;
    const readOffset = elf.fileOffset(read);
    const writeOffset = elf.fileOffset(write);
    if (readOffset === undefined || writeOffset === undefined) return undefined;
    return { readOffset, writeOffset };
  } catch (err) {
    // Bytes that do not decode, or addresses outside the file: not this layout.
    if (err instanceof RangeError || err instanceof ElfError) return undefined;
    throw err;
  }
}

/**
 * The address of the function `plain` calls and `ex` passes its arguments to
 * unchanged (see the file comment), or undefined. Throws RangeError on code
 * that does not decode.
 */
export function sharedCallee(
  plain: FunctionCode | undefined,
  ex: FunctionCode | undefined,
  inText: (vaddr: number) => boolean,
): number | undefined {
  if (!plain || !ex) return undefined;
  const calls = decodeAll(plain.code)
    .filter((insn) => insn.opcode === CALL_REL32)
    .map((insn) => target(plain, insn))
    .filter(inText);
  if (calls.length !== 1) return undefined;
  const callee = calls[0]!;
  if (callee === plain.vaddr || callee === ex.vaddr) return undefined;
  // Only the instructions up to the first branch matter: decode no further.
  for (let at = 0; at < ex.code.length; ) {
    const insn = decodeInstruction(ex.code, at);
    if (insn.opcode === CALL_REL32 || insn.opcode === JMP_REL32) return target(ex, insn) === callee ? callee : undefined;
    if (!keepsArguments(ex.code.subarray(insn.offset, insn.offset + insn.length))) return undefined;
    at += insn.length;
  }
  return undefined;
}

/** Where a CALL/JMP rel32 goes. */
function target(fn: FunctionCode, insn: Instruction): number {
  const end = insn.offset + insn.length;
  const rel = new DataView(fn.code.buffer, fn.code.byteOffset + end - 4, 4).getInt32(0, true);
  return fn.vaddr + end + rel;
}

/**
 * Instructions a compiler puts before passing arguments on, known to leave
 * rdi, rsi, rdx and rcx alone: stack adjustment, pushes, endbr64, nops.
 * Anything else may not, and ends the search.
 */
function keepsArguments(b: Uint8Array): boolean {
  // sub/add $imm, %rsp
  if (b[0] === 0x48 && (b[1] === 0x83 || b[1] === 0x81) && (b[2] === 0xec || b[2] === 0xc4)) return true;
  // push %reg, push %r8-%r15
  if (b.length === 1 && b[0]! >= 0x50 && b[0]! <= 0x57) return true;
  if (b.length === 2 && b[0] === 0x41 && b[1]! >= 0x50 && b[1]! <= 0x57) return true;
  // endbr64
  if (b.length === 4 && b[0] === 0xf3 && b[1] === 0x0f && b[2] === 0x1e && b[3] === 0xfa) return true;
  // nop, and the multi-byte nops (0f 1f /0, with or without 66 prefixes)
  if (b.length === 1 && b[0] === 0x90) return true;
  let i = 0;
  while (b[i] === 0x66) i++;
  return b[i] === 0x0f && b[i + 1] === 0x1f;
}
