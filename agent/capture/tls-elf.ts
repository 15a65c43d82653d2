// A minimal reader for 64-bit little-endian ELF files: sections, program
// headers, symbol lookup by name and bytes by virtual address. Reads with
// positional reads, never the whole file (node is ~100 MB). Every malformed
// field is an ElfError, never an out-of-range read.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export class ElfError extends Error {}

export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_X86_64 = 62;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const SHT_NOBITS = 8;
const SHT_RELA = 4;
const R_X86_64_RELATIVE = 8;
const PT_LOAD = 1;
const STT_FUNC = 2;
const STT_OBJECT = 1;
/** Largest symbol/string table read into memory. */
const MAX_TABLE_BYTES = 64 << 20;

export interface ElfSection {
  name: string;
  type: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
}

interface LoadSegment {
  offset: number;
  vaddr: number;
  filesz: number;
}

export interface ElfSymbol {
  name: string;
  value: number;
  size: number;
  /** STT_* */
  type: number;
  /** Section index; 0 means undefined (imported). */
  shndx: number;
}

export class ElfFile {
  readonly type: number;
  readonly machine: number;
  readonly sections: ElfSection[] = [];
  readonly #segments: LoadSegment[] = [];
  readonly #fd: number;
  readonly #fileSize: number;

  private constructor(fd: number) {
    this.#fd = fd;
    this.#fileSize = fstatSync(fd).size;
    const h = this.read(0, 64);
    if (h.readUInt32BE(0) !== 0x7f454c46) throw new ElfError('not an ELF file');
    if (h[4] !== 2 || h[5] !== 1) throw new ElfError('not a 64-bit little-endian ELF file');
    this.type = h.readUInt16LE(16);
    this.machine = h.readUInt16LE(18);
    const phoff = num(h.readBigUInt64LE(32));
    const shoff = num(h.readBigUInt64LE(40));
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    const shentsize = h.readUInt16LE(58);
    const shnum = h.readUInt16LE(60);
    const shstrndx = h.readUInt16LE(62);

    if (phnum > 0) {
      if (phentsize < 56) throw new ElfError('bad program header size');
      const ph = this.read(phoff, phnum * phentsize);
      for (let i = 0; i < phnum; i++) {
        const at = i * phentsize;
        if (ph.readUInt32LE(at) !== PT_LOAD) continue;
        this.#segments.push({
          offset: num(ph.readBigUInt64LE(at + 8)),
          vaddr: num(ph.readBigUInt64LE(at + 16)),
          filesz: num(ph.readBigUInt64LE(at + 32)),
        });
      }
    }
    if (shnum > 0 && shoff > 0) {
      if (shentsize < 64) throw new ElfError('bad section header size');
      const sh = this.read(shoff, shnum * shentsize);
      const raw = [];
      for (let i = 0; i < shnum; i++) {
        const at = i * shentsize;
        raw.push({
          nameOff: sh.readUInt32LE(at),
          type: sh.readUInt32LE(at + 4),
          addr: num(sh.readBigUInt64LE(at + 16)),
          offset: num(sh.readBigUInt64LE(at + 24)),
          size: num(sh.readBigUInt64LE(at + 32)),
          link: sh.readUInt32LE(at + 40),
        });
      }
      const strtab = raw[shstrndx];
      const names = strtab ? this.read(strtab.offset, Math.min(strtab.size, MAX_TABLE_BYTES)) : Buffer.alloc(0);
      for (const s of raw) this.sections.push({ name: cString(names, s.nameOff), type: s.type, addr: s.addr, offset: s.offset, size: s.size, link: s.link });
    }
  }

  /** Opens path; throws ElfError for files that are not 64-bit little-endian ELF, and fs errors as they are. */
  static open(path: string): ElfFile {
    const fd = openSync(path, 'r');
    try {
      return new ElfFile(fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  close(): void {
    closeSync(this.#fd);
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The first section with one of the given names, in the order the names are given. */
  firstSection(names: readonly string[]): ElfSection | undefined {
    for (const name of names) {
      const found = this.section(name);
      if (found) return found;
    }
    return undefined;
  }

  /** The bytes of a section held in the file; an ElfError when larger than maxBytes or outside the file. */
  readSection(sec: ElfSection, maxBytes: number): Buffer {
    if (sec.type === SHT_NOBITS) throw new ElfError(`section ${sec.name} has no bytes in the file`);
    if (sec.size > maxBytes) throw new ElfError(`section ${sec.name} is ${sec.size} bytes (at most ${maxBytes} read)`);
    return this.read(sec.offset, sec.size);
  }

  /** True when the file has a full symbol table (.symtab), i.e. it was not stripped. */
  get hasSymtab(): boolean {
    return this.sections.some((s) => s.type === SHT_SYMTAB);
  }

  /** bytes [offset, offset + length) of the file. */
  read(offset: number, length: number): Buffer {
    if (offset < 0 || length < 0 || offset + length > this.#fileSize) {
      throw new ElfError(`read of ${length} bytes at ${offset} is outside the file (${this.#fileSize} bytes)`);
    }
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.#fd, buf, done, length - done, offset + done);
      if (n <= 0) throw new ElfError('short read');
      done += n;
    }
    return buf;
  }

  /** File offset of a virtual address, from the PT_LOAD segment holding it. */
  fileOffset(vaddr: number): number | undefined {
    for (const seg of this.#segments) {
      if (vaddr >= seg.vaddr && vaddr < seg.vaddr + seg.filesz) return vaddr - seg.vaddr + seg.offset;
    }
    return undefined;
  }

  /**
   * The value the dynamic loader writes at vaddr through an R_X86_64_RELATIVE
   * relocation (load bias + addend, given here as the link-time addend), for
   * pointers a position-independent file leaves zero on disk. Undefined when
   * no such relocation targets vaddr.
   */
  relativeRelocation(vaddr: number): number | undefined {
    for (const sec of this.sections) {
      if (sec.type !== SHT_RELA || sec.size > MAX_TABLE_BYTES) continue;
      const rela = this.read(sec.offset, sec.size);
      for (let at = 0; at + 24 <= rela.length; at += 24) {
        if (rela.readUInt32LE(at + 8) !== R_X86_64_RELATIVE || num(rela.readBigUInt64LE(at)) !== vaddr) continue;
        const addend = rela.readBigInt64LE(at + 16);
        return addend >= 0n ? num(addend) : undefined;
      }
    }
    return undefined;
  }

  /** length bytes at a virtual address. */
  readVaddr(vaddr: number, length: number): Buffer {
    const at = this.fileOffset(vaddr);
    if (at === undefined || this.fileOffset(vaddr + length - 1) === undefined) {
      throw new ElfError(`address 0x${vaddr.toString(16)} is not in a loaded segment`);
    }
    return this.read(at, length);
  }

  /**
   * Defined symbols with one of the given names, from .symtab or .dynsym.
   * A name defined twice keeps its first definition.
   */
  symbols(table: 'symtab' | 'dynsym', names: ReadonlySet<string>): Map<string, ElfSymbol> {
    const found = new Map<string, ElfSymbol>();
    const sec = this.sections.find((s) => s.type === (table === 'symtab' ? SHT_SYMTAB : SHT_DYNSYM));
    if (!sec) return found;
    const strSec = this.sections[sec.link];
    if (!strSec || sec.size > MAX_TABLE_BYTES || strSec.size > MAX_TABLE_BYTES) return found;
    const syms = this.read(sec.offset, sec.size);
    const strs = this.read(strSec.offset, strSec.size);
    // Compare names as bytes before decoding them: most symbols are not wanted.
    const wanted = new Map<number, Buffer[]>();
    for (const name of names) {
      const b = Buffer.from(name, 'latin1');
      const list = wanted.get(b.length) ?? [];
      list.push(b);
      wanted.set(b.length, list);
    }
    for (let at = 0; at + 24 <= syms.length; at += 24) {
      const nameOff = syms.readUInt32LE(at);
      if (nameOff === 0 || nameOff >= strs.length) continue;
      let end = strs.indexOf(0, nameOff);
      if (end < 0) end = strs.length;
      const candidates = wanted.get(end - nameOff);
      if (!candidates) continue;
      const nameBytes = strs.subarray(nameOff, end);
      if (!candidates.some((c) => c.equals(nameBytes))) continue;
      const name = nameBytes.toString('latin1');
      const shndx = syms.readUInt16LE(at + 6);
      if (shndx === 0 || found.has(name)) continue;
      found.set(name, {
        name,
        type: syms[at + 4]! & 0xf,
        shndx,
        value: num(syms.readBigUInt64LE(at + 8)),
        size: num(syms.readBigUInt64LE(at + 16)),
      });
    }
    return found;
  }
}

export const isFunction = (s: ElfSymbol): boolean => s.type === STT_FUNC;
export const isObject = (s: ElfSymbol): boolean => s.type === STT_OBJECT;

function num(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError('64-bit field beyond 2^53');
  return Number(v);
}

function cString(buf: Buffer, at: number): string {
  if (at >= buf.length) return '';
  let end = buf.indexOf(0, at);
  if (end < 0) end = buf.length;
  return buf.subarray(at, end).toString('latin1');
}
