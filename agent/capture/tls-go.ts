// Go crypto/tls probe points of one Go executable, found from the file alone:
// the Go version from the build info, the entries of (*Conn).Write and
// (*Conn).Read from the symbol table (probed at their prologue's stack-check
// JBE, which the kernel emulates, rather than at the first instruction, which
// it would single-step), the RET instructions of Read by decoding its machine
// code, and the *net.TCPConn itab used to check that a tls.Conn really sits
// on a TCP socket before its fd is trusted.
//
// Struct offsets are the known layout for the supported Go versions (not read
// from DWARF): tls.Conn.conn is the first field of tls.Conn, net.TCPConn holds
// net.conn whose first field is fd *netFD, whose first field pfd poll.FD starts
// with fdmu (a 16-byte fdMutex) followed by Sysfd. That layout has held from
// go1.9 through go1.24; the register ABI the probes read needs go1.17.
import type { GoTlsProbeConfig } from '../../native/loader.js';
import { ElfError, ElfFile, EM_X86_64, isFunction } from './tls-elf.js';
import { decodeInstruction, findReturns } from './tls-x86.js';

export const GO_MIN_MINOR = 17;
export const GO_MAX_MINOR = 24;
const WRITE = 'crypto/tls.(*Conn).Write';
const READ = 'crypto/tls.(*Conn).Read';
const ITABS = ['go:itab.*net.TCPConn,net.Conn', 'go.itab.*net.TCPConn,net.Conn'];
const BUILDINFO_MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const LAYOUT = { conn_offset: 0, netfd_offset: 0, sysfd_offset: 16 } as const;
/** bpf/flowscope.h FS_GO_WRITE_AT_JBE / FS_GO_READ_AT_JBE */
export const GO_WRITE_AT_JBE = 1;
export const GO_READ_AT_JBE = 2;

/**
 * Offset of the stack-check JBE in a Go function's prologue, when the prologue
 * is the plain form the compiler emits for frames under 4 KiB:
 *   [lea r12, [rsp-N]]  cmp rsp|r12, [r14+16]  jbe morestack
 * Nothing before it touches the argument registers or R14. Undefined for any
 * other shape (the caller then probes the first instruction).
 */
export function stackCheckJbe(code: Uint8Array): number | undefined {
  let at = 0;
  for (let i = 0; i < 3 && at < code.length; i++) {
    const insn = decodeInstruction(code, at);
    const b = code.subarray(at, at + insn.length);
    // lea r12, [rsp+disp]: REX.WR (4c) 8d, ModRM reg=r12&7=4, rm=100 (SIB), SIB base=rsp
    const leaR12 = b[0] === 0x4c && b[1] === 0x8d && ((b[2]! >> 3) & 7) === 4 && (b[2]! & 7) === 4 && (b[3]! & 7) === 4;
    // cmp rsp|r12, [r14+16]: REX.W+B (49) or REX.WRB (4d), 3b, ModRM mod=01 reg=4 rm=110 (r14), disp8 0x10
    const cmpGuard = (b[0] === 0x49 || b[0] === 0x4d) && b[1] === 0x3b && b[2] === 0x66 && b[3] === 0x10;
    const jbe = insn.opcode === 0x76 || insn.opcode === 0x186;
    if (jbe) return i > 0 ? at : undefined;
    if (!(leaR12 && i === 0) && !cmpGuard) return undefined;
    at += insn.length;
  }
  return undefined;
}

export type GoInspection =
  | { probeable: true; version: string; probe: GoTlsProbeConfig }
  | { probeable: false; version?: string; reason: string };

/** True for files with Go build info (any Go executable, stripped or not). */
export function isGoExecutable(elf: ElfFile): boolean {
  return elf.section('.go.buildinfo') !== undefined;
}

/** The Go version a binary was built with ("go1.19.8"), from .go.buildinfo; undefined if unreadable. */
export function goVersion(elf: ElfFile): string | undefined {
  const sec = elf.section('.go.buildinfo');
  if (!sec || sec.size < 32) return undefined;
  const head = elf.read(sec.offset, Math.min(sec.size, 64 + 256));
  if (!head.subarray(0, BUILDINFO_MAGIC.length).equals(BUILDINFO_MAGIC)) return undefined;
  const ptrSize = head[14]!;
  const flags = head[15]!;
  if (flags & 2) {
    // go1.18+: the version is inline after the 32-byte header, varint-length-prefixed.
    let len = 0;
    let shift = 0;
    let at = 32;
    for (; at < head.length && shift < 28; at++, shift += 7) {
      len |= (head[at]! & 0x7f) << shift;
      if (!(head[at]! & 0x80)) break;
    }
    at++;
    if (len === 0 || len > 200 || at + len > head.length) return undefined;
    return head.subarray(at, at + len).toString('latin1');
  }
  // Older: a pointer to the version's Go string header (pointer, length).
  if (ptrSize !== 8 || flags & 1) return undefined;
  try {
    const strHeader = elf.readVaddr(Number(head.readBigUInt64LE(16)), 16);
    const len = Number(strHeader.readBigUInt64LE(8));
    if (len === 0 || len > 200) return undefined;
    return elf.readVaddr(Number(strHeader.readBigUInt64LE(0)), len).toString('latin1');
  } catch {
    return undefined;
  }
}

/** The minor version of "go1.N[.P]" (also inside "devel go1.N-..."), or undefined. */
export function goMinor(version: string): number | undefined {
  const m = /go1\.(\d+)/.exec(version);
  return m ? Number(m[1]) : undefined;
}

/** Where and how to probe crypto/tls in the Go executable at path, or why it cannot be. */
export function inspectGoExecutable(path: string): GoInspection {
  let elf: ElfFile;
  try {
    elf = ElfFile.open(path);
  } catch (err) {
    return { probeable: false, reason: `unreadable: ${(err as Error).message}` };
  }
  try {
    return inspect(elf);
  } catch (err) {
    if (err instanceof ElfError || err instanceof RangeError) return { probeable: false, reason: `malformed: ${err.message}` };
    throw err;
  } finally {
    elf.close();
  }
}

function inspect(elf: ElfFile): GoInspection {
  if (elf.machine !== EM_X86_64) return { probeable: false, reason: 'unsupported architecture (x86_64 only)' };
  const version = goVersion(elf);
  if (!version) return { probeable: false, reason: 'no Go build info' };
  const minor = goMinor(version);
  if (minor === undefined || minor < GO_MIN_MINOR || minor > GO_MAX_MINOR) {
    return { probeable: false, version, reason: `unsupported Go version ${version} (go1.${GO_MIN_MINOR} to go1.${GO_MAX_MINOR})` };
  }
  if (!elf.hasSymtab) return { probeable: false, version, reason: 'stripped (no symbol table)' };
  const syms = elf.symbols('symtab', new Set([WRITE, READ, ...ITABS]));
  const write = syms.get(WRITE);
  const read = syms.get(READ);
  if (!write || !read || !isFunction(write) || !isFunction(read)) {
    return { probeable: false, version, reason: 'does not use crypto/tls' };
  }
  const writeOffset = elf.fileOffset(write.value);
  const readOffset = elf.fileOffset(read.value);
  if (writeOffset === undefined || readOffset === undefined || read.size === 0) {
    return { probeable: false, version, reason: 'crypto/tls functions outside loaded segments' };
  }
  const readCode = elf.read(readOffset, read.size);
  const rets = findReturns(readCode);
  if (rets.length === 0) return { probeable: false, version, reason: 'no RET found in crypto/tls.(*Conn).Read' };
  const writeJbe = stackCheckJbe(elf.read(writeOffset, Math.min(write.size, 64)));
  const readJbe = stackCheckJbe(readCode);
  const itab = ITABS.map((n) => syms.get(n)).find((s) => s !== undefined);
  return {
    probeable: true,
    version,
    probe: {
      writeOffset: writeOffset + (writeJbe ?? 0),
      readOffset: readOffset + (readJbe ?? 0),
      readRetOffsets: rets.map((r) => readOffset + r),
      conf: {
        tcpconn_itab: itab?.value ?? 0,
        write_entry: write.value + (writeJbe ?? 0),
        read_entry: read.value + (readJbe ?? 0),
        ...LAYOUT,
        flags: (writeJbe !== undefined ? GO_WRITE_AT_JBE : 0) | (readJbe !== undefined ? GO_READ_AT_JBE : 0),
      },
    },
  };
}
