// Go crypto/tls probe points of one Go executable, found from the file alone:
// the Go version from the build info, the entries of (*Conn).Write and
// (*Conn).Read from the symbol table, or from Go's own function table
// (.gopclntab, go-pclntab.ts) when the binary was stripped (probed at their
// prologue's stack-check JBE, which the kernel emulates, rather than at the
// first instruction, which it would single-step), the RET instructions of
// Read by decoding its machine code, and the *net.TCPConn itab used to check
// that a tls.Conn really sits on a TCP socket before its fd is trusted (from
// the symbol table, or by the type names the itabs point to when stripped).
//
// Struct offsets are the known layout for the supported Go versions (not read
// from DWARF): tls.Conn.conn is the first field of tls.Conn, net.TCPConn holds
// net.conn whose first field is fd *netFD, whose first field pfd poll.FD starts
// with fdmu (a 16-byte fdMutex) followed by Sysfd. That layout has held from
// go1.9 through go1.24; the register ABI the probes read needs go1.17.
import type { GoTlsProbeConfig } from '../../native/loader.js';
import { GoPclntab, type PclntabResult } from './go-pclntab.js';
import { ElfError, ElfFile, EM_X86_64, isFunction } from './tls-elf.js';
import { decodeInstruction, findReturns } from './tls-x86.js';

export const GO_MIN_MINOR = 17;
export const GO_MAX_MINOR = 24;
const WRITE = 'crypto/tls.(*Conn).Write';
const READ = 'crypto/tls.(*Conn).Read';
const ITABS = ['go:itab.*net.TCPConn,net.Conn', 'go.itab.*net.TCPConn,net.Conn'];
const BUILDINFO_MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const TCPCONN_TYPE = '*net.TCPConn';
const NETCONN_INTERFACE = 'net.Conn';
/** Position-independent builds put read-only data needing relocation under .data.rel.ro. */
const PCLNTAB_SECTIONS = ['.gopclntab', '.data.rel.ro.gopclntab'];
/** Where an external linker puts the function table when it merges Go's sections. */
const MERGED_PCLNTAB_SECTIONS = ['.data.rel.ro', '.rodata'];
const ITABLINK_SECTIONS = ['.itablink', '.data.rel.ro.itablink'];
/** Largest .gopclntab read (a large Kubernetes binary's is about 40 MiB). */
const MAX_PCLNTAB_BYTES = 256 << 20;
const MAX_ITABLINK_BYTES = 4 << 20;
/** Largest section searched for type names and records. */
const MAX_TYPES_SCAN_BYTES = 128 << 20;
/** Name records and candidate type records tried when solving for an itab. */
const MAX_NAME_RECORDS = 4;
const MAX_TYPE_CANDIDATES = 16;
/** Largest function body decoded for RETs. */
const MAX_FUNCTION_BYTES = 1 << 20;
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
  const found = elf.hasSymtab ? fromSymtab(elf) : fromPclntab(elf);
  if (typeof found === 'string') return { probeable: false, version, reason: found };
  const { write, read, itab } = found;
  const writeOffset = elf.fileOffset(write.entry);
  const readOffset = elf.fileOffset(read.entry);
  if (writeOffset === undefined || readOffset === undefined || read.size === 0 || read.size > MAX_FUNCTION_BYTES) {
    return { probeable: false, version, reason: 'crypto/tls functions outside loaded segments' };
  }
  const readCode = elf.read(readOffset, read.size);
  const rets = findReturns(readCode);
  if (rets.length === 0) return { probeable: false, version, reason: 'no RET found in crypto/tls.(*Conn).Read' };
  const writeJbe = stackCheckJbe(elf.read(writeOffset, Math.min(write.size, 64)));
  const readJbe = stackCheckJbe(readCode);
  return {
    probeable: true,
    version,
    probe: {
      writeOffset: writeOffset + (writeJbe ?? 0),
      readOffset: readOffset + (readJbe ?? 0),
      readRetOffsets: rets.map((r) => readOffset + r),
      conf: {
        tcpconn_itab: itab ?? 0,
        write_entry: write.entry + (writeJbe ?? 0),
        read_entry: read.entry + (readJbe ?? 0),
        ...LAYOUT,
        flags: (writeJbe !== undefined ? GO_WRITE_AT_JBE : 0) | (readJbe !== undefined ? GO_READ_AT_JBE : 0),
      },
    },
  };
}

interface GoTlsFunctions {
  write: { entry: number; size: number };
  read: { entry: number; size: number };
  /** Link-time address of the *net.TCPConn,net.Conn itab; undefined when not found (fd then read unchecked). */
  itab?: number;
}

/** Read and Write from the ELF symbol table of an unstripped binary, or why not. */
function fromSymtab(elf: ElfFile): GoTlsFunctions | string {
  const syms = elf.symbols('symtab', new Set([WRITE, READ, ...ITABS]));
  const write = syms.get(WRITE);
  const read = syms.get(READ);
  if (!write || !read || !isFunction(write) || !isFunction(read)) return 'does not use crypto/tls';
  const itab = ITABS.map((n) => syms.get(n)).find((s) => s !== undefined);
  return { write: { entry: write.value, size: write.size }, read: { entry: read.value, size: read.size }, itab: itab?.value };
}

/**
 * Read and Write from Go's own function table when the symbol table was
 * stripped, and the itab from the itab links by the type names they point to.
 */
function fromPclntab(elf: ElfFile): GoTlsFunctions | string {
  const parsed = readPclntab(elf);
  if (!parsed.ok) return `stripped (no symbol table), ${parsed.reason}`;
  const funcs = parsed.table.find([WRITE, READ]);
  const write = funcs.get(WRITE);
  const read = funcs.get(READ);
  if (!write || !read) return 'does not use crypto/tls';
  return {
    write: { entry: write.entry, size: write.end - write.entry },
    read: { entry: read.entry, size: read.end - read.entry },
    itab: findItab(elf, TCPCONN_TYPE, NETCONN_INTERFACE),
  };
}

/**
 * The function table of a Go executable, parsed: its own section when linked
 * by Go, or found by its header inside the section an external linker merged
 * it into. The reason when it is missing or does not add up.
 */
export function readPclntab(elf: ElfFile): PclntabResult {
  const sec = elf.firstSection(PCLNTAB_SECTIONS);
  const text = elf.section('.text');
  try {
    // The header's textStart (byte 24) is a pointer: a position-independent file may leave it zero for a relocation.
    if (sec) return GoPclntab.parse(elf.readSection(sec, MAX_PCLNTAB_BYTES), () => elf.relativeRelocation(sec.addr + 24));
    const isText = (addr: number): boolean => text !== undefined && addr >= text.addr && addr < text.addr + text.size;
    for (const name of MERGED_PCLNTAB_SECTIONS) {
      const merged = elf.section(name);
      if (!merged || merged.size > MAX_PCLNTAB_BYTES) continue;
      const table = GoPclntab.locate(elf.readSection(merged, MAX_PCLNTAB_BYTES), isText);
      if (table) return { ok: true, table };
    }
  } catch (err) {
    if (err instanceof ElfError) return { ok: false, reason: `Go function table unreadable: ${err.message}` };
    throw err;
  }
  return { ok: false, reason: 'no Go function table (.gopclntab) found' };
}

/**
 * Link-time address of the itab pairing the concrete type named typeName with
 * the interface named interfaceName. Each itab starts with its interface type
 * and its concrete type; a type's name sits at types + its str offset
 * (abi.Type byte 40): a flags byte, a varint length, the bytes, with a leading
 * '*' to drop when the type's tflag has TFlagExtraStar. The types base
 * (runtime.types) is not known without symbols, so it is solved for: the name
 * record of typeName is found by its bytes, base = that address - the type's
 * str, and the pair is accepted only if the interface's name then decodes to
 * interfaceName at the same base. The itabs come from .itablink; when an
 * external linker merged it away, from a scan of the section holding them.
 */
export function findItab(elf: ElfFile, typeName: string, interfaceName: string): number | undefined {
  const data = TypeData.read(elf);
  const names = data.nameRecords(typeName);
  if (names.length === 0) return undefined;
  const links = elf.firstSection(ITABLINK_SECTIONS);
  if (!links) return scanForItab(data, names, interfaceName);
  let pointers: Buffer;
  try {
    pointers = elf.readSection(links, MAX_ITABLINK_BYTES);
  } catch {
    return undefined;
  }
  for (let at = 0; at + 8 <= pointers.length; at += 8) {
    const itab = num64(pointers, at);
    const head = data.at(itab, 16);
    if (head && pairMatches(data, names, num64(head, 0), num64(head, 8), interfaceName)) return itab;
  }
  return undefined;
}

const TFLAG_EXTRA_STAR = 2;
/** abi.Type: tflag at byte 20, str (name offset from the types base) at byte 40. */
const TYPE_TFLAG = 20;
const TYPE_STR = 40;
/** Sections that hold Go type data and itabs: .rodata, or .data.rel.ro when it needs relocation (PIE, external linking). */
const TYPE_SECTIONS = ['.rodata', '.data.rel.ro'];

/** The sections holding Go type data, read once, addressed by link-time address without further file reads. */
class TypeData {
  readonly sections: Array<{ addr: number; bytes: Buffer }> = [];

  static read(elf: ElfFile): TypeData {
    const data = new TypeData();
    for (const name of TYPE_SECTIONS) {
      const sec = elf.section(name);
      if (!sec || sec.addr === 0) continue;
      try {
        data.sections.push({ addr: sec.addr, bytes: elf.readSection(sec, MAX_TYPES_SCAN_BYTES) });
      } catch (err) {
        if (!(err instanceof ElfError)) throw err;
      }
    }
    return data;
  }

  /** length bytes at a link-time address, or undefined outside these sections. */
  at(addr: number, length: number): Buffer | undefined {
    for (const { addr: start, bytes } of this.sections) {
      if (addr >= start && addr + length <= start + bytes.length) return bytes.subarray(addr - start, addr - start + length);
    }
    return undefined;
  }

  /** Addresses of the name records spelling name exactly (their flags byte), a bounded number. */
  nameRecords(name: string): number[] {
    const bytes = Buffer.from(name, 'latin1');
    if (bytes.length === 0 || bytes.length > 127) return [];
    const needle = Buffer.concat([Buffer.from([bytes.length]), bytes]);
    const found: number[] = [];
    for (const { addr, bytes: data } of this.sections) {
      for (let at = data.indexOf(needle, 1); at >= 0 && found.length < MAX_NAME_RECORDS; at = data.indexOf(needle, at + 1)) found.push(addr + at - 1);
    }
    return found;
  }

  /** The name of the type at address type with the types base at base; undefined when it does not decode. */
  typeName(base: number, type: number): string | undefined {
    const head = this.at(type, TYPE_STR + 4);
    if (!head) return undefined;
    const prefix = this.at(base + head.readInt32LE(TYPE_STR), 2);
    if (!prefix || prefix[1]! & 0x80) return undefined; // names this long are never the ones looked for
    const name = this.at(base + head.readInt32LE(TYPE_STR) + 2, prefix[1]!)?.toString('latin1');
    return name !== undefined && head[TYPE_TFLAG]! & TFLAG_EXTRA_STAR ? name.replace(/^\*/, '') : name;
  }
}

/** Whether (inter, type) names typeName (one of its name records) and interfaceName at one consistent types base. */
function pairMatches(data: TypeData, names: readonly number[], inter: number, type: number, interfaceName: string): boolean {
  const head = data.at(type, TYPE_STR + 4);
  if (!head || head[TYPE_TFLAG]! & TFLAG_EXTRA_STAR) return false;
  const str = head.readInt32LE(TYPE_STR);
  return names.some((name) => data.typeName(name - str, inter) === interfaceName);
}

/**
 * The itab when .itablink is gone: in each section holding types and itabs,
 * the 8-aligned type records whose str is a name record's offset from the
 * section start (where runtime.types sits when Go placed the section), then
 * an 8-aligned pair (interface, that type) that matches. Each candidate type
 * costs a pass over the section: a bounded number are tried.
 */
function scanForItab(data: TypeData, names: readonly number[], interfaceName: string): number | undefined {
  let tries = 0;
  for (const { addr, bytes } of data.sections) {
    const strs = new Set(names.map((n) => n - addr));
    for (let field = TYPE_STR; field + 4 <= bytes.length && tries < MAX_TYPE_CANDIDATES; field += 8) {
      if (!strs.has(bytes.readInt32LE(field)) || bytes[field - TYPE_STR + TYPE_TFLAG]! & TFLAG_EXTRA_STAR) continue;
      tries++;
      const type = addr + field - TYPE_STR;
      const lo = type % 0x100000000;
      const hi = Math.floor(type / 0x100000000);
      for (let at = 0; at + 16 <= bytes.length; at += 8) {
        if (bytes.readUInt32LE(at + 8) !== lo || bytes.readUInt32LE(at + 12) !== hi) continue;
        if (pairMatches(data, names, num64(bytes, at), type, interfaceName)) return addr + at;
      }
    }
  }
  return undefined;
}

/** A little-endian u64 as a number; values past 2^53 become -1 (no address). */
function num64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
}
