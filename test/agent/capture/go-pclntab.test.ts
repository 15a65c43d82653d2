// Go's function table (.gopclntab) read from real binaries built here from
// test/fixtures/tls/go-server with the installed Go toolchain: every function
// it names sits where the unstripped build's ELF symbol table says, the
// stripped build yields the same crypto/tls probe points as the unstripped
// one, and truncated or garbage tables give a reason, never an exception.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GoPclntab, PCLNTAB_MAGIC_GO118, PCLNTAB_MAGIC_GO120 } from '../../../agent/capture/go-pclntab.js';
import { ElfFile } from '../../../agent/capture/tls-elf.js';
import { findItab, GO_READ_AT_JBE, GO_WRITE_AT_JBE, inspectGoExecutable, readPclntab } from '../../../agent/capture/tls-go.js';
import { decodeInstruction } from '../../../agent/capture/tls-x86.js';
import { buildGo } from '../../fixtures/tls/programs.js';

const READ = 'crypto/tls.(*Conn).Read';
const WRITE = 'crypto/tls.(*Conn).Write';

function pclntabBytes(path: string): Buffer {
  const elf = ElfFile.open(path);
  try {
    const sec = elf.firstSection(['.gopclntab', '.data.rel.ro.gopclntab'])!;
    return elf.readSection(sec, 1 << 30);
  } finally {
    elf.close();
  }
}

interface NmSymbol {
  name: string;
  value: number;
  size: number;
  type: string;
}

/** Every defined symbol by address, as binutils nm reads the ELF symbol table: an oracle independent of tls-elf.ts. */
function nmSymbols(path: string): Map<number, NmSymbol[]> {
  const out = execFileSync('nm', ['-S', '--defined-only', path], { maxBuffer: 64 << 20 }).toString('utf8');
  const symbols = new Map<number, NmSymbol[]>();
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]+) (?:([0-9a-f]+) )?(\S) (.+)$/.exec(line);
    if (!m) continue;
    const sym = { name: m[4]!, value: parseInt(m[1]!, 16), size: m[2] ? parseInt(m[2], 16) : 0, type: m[3]! };
    symbols.set(sym.value, [...(symbols.get(sym.value) ?? []), sym]);
  }
  return symbols;
}

/**
 * Whether a function table name and a symbol name are the same function: assembly
 * functions carry ".abi0" in the symbol table, and the function table shortens the
 * bracketed part of generated names to "[...]": array lengths ("type..eq.[...]internal/cpu.option")
 * and type arguments ("crypto/elliptic.(*nistCurve[...]).Params").
 */
function sameFunction(name: string, symbolName: string): boolean {
  // The linker writes the middle dot of compiler-generated names as '.' in the symbol table.
  const tableName = name.replace(/\u00b7/g, '.');
  if (symbolName === tableName || symbolName === `${tableName}.abi0`) return true;
  if (!tableName.includes('[...]')) return false;
  const pattern = tableName.split('[...]').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\[.+?\\]');
  return new RegExp(`^${pattern}$`).test(symbolName);
}

function withElf<T>(path: string, use: (elf: ElfFile) => T): T {
  const elf = ElfFile.open(path);
  try {
    return use(elf);
  } finally {
    elf.close();
  }
}

/** A copy of the binary at path with its .gopclntab bytes passed through change. */
function patchedCopy(path: string, out: string, change: (section: Buffer) => void): string {
  copyFileSync(path, out);
  const file = readFileSync(out);
  const sec = withElf(out, (elf) => elf.firstSection(['.gopclntab', '.data.rel.ro.gopclntab'])!);
  change(file.subarray(sec.offset, sec.offset + sec.size));
  writeFileSync(out, file);
  return out;
}

describe('Go function table (.gopclntab)', () => {
  let dir: string;
  const builds: Record<'full' | 'stripped' | 'fullPie' | 'strippedPie', string> = { full: '', stripped: '', fullPie: '', strippedPie: '' };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'flowscope-pclntab-'));
    builds.full = buildGo('go-server', dir, 'full');
    builds.stripped = buildGo('go-server', dir, 'stripped', true);
    builds.fullPie = buildGo('go-server', dir, 'full-pie', false, true);
    builds.strippedPie = buildGo('go-server', dir, 'stripped-pie', true, true);
  }, 180_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [label, key] of [['executable', 'full'], ['position-independent executable', 'fullPie']] as const) {
    it(`places every function of an unstripped ${label} where its symbol table (read by nm) does`, () => {
      const symbols = nmSymbols(builds[key]);
      withElf(builds[key], (elf) => {
        const parsed = readPclntab(elf);
        if (!parsed.ok) throw new Error(parsed.reason);
        expect([PCLNTAB_MAGIC_GO118, PCLNTAB_MAGIC_GO120]).toContain(parsed.table.magic);
        const { functions, broken } = parsed.table.functions();
        expect(broken).toBeUndefined();
        expect(functions.length).toBe(parsed.table.functionCount);
        expect(functions.length).toBeGreaterThan(1000);
        const text = elf.section('.text')!;
        for (const fn of functions) {
          const sym = (symbols.get(fn.entry) ?? []).find((s) => sameFunction(fn.name, s.name));
          expect(sym, fn.name).toBeDefined();
          expect(sym!.type, fn.name).toMatch(/^[Tt]$/);
          expect(fn.entry).toBeGreaterThanOrEqual(text.addr);
          expect(fn.end).toBeLessThanOrEqual(text.addr + text.size);
          // The table's end is the next function's entry: the symbol's size plus alignment padding
          // (32 bytes on amd64); assembly stubs without a size say nothing.
          if (sym!.size > 0) {
            expect(fn.end - fn.entry).toBeGreaterThanOrEqual(sym!.size);
            expect(fn.end - fn.entry - sym!.size, fn.name).toBeLessThan(32);
          }
        }
      });
    });
  }

  it('finds crypto/tls Read and Write in the stripped build at the unstripped build’s symbol addresses', () => {
    const symbols = withElf(builds.full, (elf) => elf.symbols('symtab', new Set([READ, WRITE])));
    withElf(builds.stripped, (elf) => {
      expect(elf.hasSymtab).toBe(false);
      const parsed = readPclntab(elf);
      if (!parsed.ok) throw new Error(parsed.reason);
      const found = parsed.table.find([READ, WRITE, 'no.such.function']);
      expect(found.size).toBe(2);
      for (const name of [READ, WRITE]) {
        expect(found.get(name)!.entry).toBe(symbols.get(name)!.value);
        expect(found.get(name)!.end - found.get(name)!.entry - symbols.get(name)!.size).toBeLessThan(32);
      }
      // The whole table is the same as the unstripped build's.
      const full = withElf(builds.full, (f) => readPclntab(f));
      if (!full.ok) throw new Error(full.reason);
      expect(parsed.table.functions()).toEqual(full.table.functions());
    });
  });

  it('finds the *net.TCPConn,net.Conn itab of a stripped build through .itablink, where the symbol table puts it', () => {
    for (const [full, stripped] of [[builds.full, builds.stripped], [builds.fullPie, builds.strippedPie]] as const) {
      const symbol = withElf(full, (elf) => elf.symbols('symtab', new Set(['go.itab.*net.TCPConn,net.Conn', 'go:itab.*net.TCPConn,net.Conn'])));
      const expected = [...symbol.values()][0]!.value;
      expect(withElf(full, (elf) => findItab(elf, '*net.TCPConn', 'net.Conn'))).toBe(expected);
      expect(withElf(stripped, (elf) => findItab(elf, '*net.TCPConn', 'net.Conn'))).toBe(expected);
      expect(withElf(stripped, (elf) => findItab(elf, '*net.TCPConn', 'fmt.Stringer'))).toBeUndefined();
    }
  });

  it('gives a stripped build exactly the probe points of its unstripped build (plain and position-independent)', () => {
    for (const [full, stripped] of [[builds.full, builds.stripped], [builds.fullPie, builds.strippedPie]] as const) {
      const want = inspectGoExecutable(full);
      const got = inspectGoExecutable(stripped);
      if (!want.probeable || !got.probeable) throw new Error(`${JSON.stringify(want)} ${JSON.stringify(got)}`);
      expect(got.version).toBe(want.version);
      expect(got.probe.conf.tcpconn_itab).toBeGreaterThan(0);
      // The function table's end includes padding, so Read's code may decode a few INT3s more: same RETs.
      expect(got.probe).toEqual(want.probe);
    }
  });

  // Go programs installed on this host, built elsewhere with other Go versions and linkers.
  const DOCKER = '/usr/local/bin/docker'; // go1.24, externally linked, with symbols
  const HOST_STRIPPED = ['/usr/local/bin/terraform', '/usr/bin/caddy', '/usr/bin/podman']; // go1.23 internal; Debian go1.19 external

  it.skipIf(!existsSync(DOCKER))('reads an externally linked go1.24 binary whose function table was merged into .data.rel.ro, stripped or not', () => {
    const stripped = join(dir, 'docker-stripped');
    execFileSync('strip', ['-o', stripped, DOCKER]);
    withElf(stripped, (elf) => {
      expect(elf.hasSymtab).toBe(false);
      expect(elf.firstSection(['.gopclntab', '.data.rel.ro.gopclntab', '.itablink'])).toBeUndefined();
    });
    const symbols = nmSymbols(DOCKER);
    const byName = new Map([...symbols.values()].flat().map((s) => [s.name, s]));
    withElf(stripped, (elf) => {
      const parsed = readPclntab(elf);
      if (!parsed.ok) throw new Error(parsed.reason);
      expect(parsed.table.magic).toBe(PCLNTAB_MAGIC_GO120);
      const { functions, broken } = parsed.table.functions();
      expect(broken).toBeUndefined();
      for (const fn of functions) {
        expect((symbols.get(fn.entry) ?? []).some((s) => sameFunction(fn.name, s.name)), fn.name).toBe(true);
      }
      expect(findItab(elf, '*net.TCPConn', 'net.Conn')).toBe(byName.get('go:itab.*net.TCPConn,net.Conn')!.value);
    });
    const want = inspectGoExecutable(DOCKER);
    const got = inspectGoExecutable(stripped);
    if (!want.probeable || !got.probeable) throw new Error(`${JSON.stringify(want)} ${JSON.stringify(got)}`);
    expect(want.version).toMatch(/^go1\.2[4-9]/);
    expect(got.probe).toEqual(want.probe);
  });

  for (const path of HOST_STRIPPED) {
    it.skipIf(!existsSync(path))(`probes ${path} (stripped, built elsewhere) at a stack-check JBE, its RETs and a TCPConn itab`, () => {
      const found = inspectGoExecutable(path);
      if (!found.probeable) throw new Error(found.reason);
      withElf(path, (elf) => {
        expect(elf.hasSymtab).toBe(false);
        // Entry probes on the prologue's JBE, every Read probe on a RET: the addresses really are those functions.
        expect(found.probe.conf.flags).toBe(GO_WRITE_AT_JBE | GO_READ_AT_JBE);
        for (const at of [found.probe.writeOffset, found.probe.readOffset]) expect([0x76, 0x186]).toContain(decodeInstruction(elf.read(at, 16), 0).opcode);
        expect(found.probe.readRetOffsets.length).toBeGreaterThan(0);
        for (const at of found.probe.readRetOffsets) expect(elf.read(at, 1)[0]).toBe(0xc3);
        expect(found.probe.conf.tcpconn_itab).toBeGreaterThan(0);
      });
    });
  }

  it('reports a stripped binary whose table is unreadable with a reason', () => {
    const cases: Array<[string, (s: Buffer) => void, RegExp]> = [
      ['unknown magic', (s) => s.writeUInt32LE(0x12345678, 0), /^stripped \(no symbol table\), unknown pclntab magic 0x12345678$/],
      ['go1.16 layout', (s) => s.writeUInt32LE(0xfffffffa, 0), /pclntab layout of go1\.16-1\.17 not supported/],
      ['huge function count', (s) => s.writeBigUInt64LE(1n << 40n, 8), /function count \d+ does not fit/],
      ['offsets past the end', (s) => s.writeBigUInt64LE(BigInt(s.length + 1), 8 + 8 * 7), /offsets outside the section/],
      ['32-bit header', (s) => (s[7] = 4), /not for a 64-bit target/],
      // Not position-independent: no relocation fills a zero text start in.
      ['no text start', (s) => s.writeBigUInt64LE(0n, 24), /pclntab has no text start address/],
    ];
    for (const [name, change, reason] of cases) {
      const path = patchedCopy(builds.stripped, join(dir, `bad-${name.replace(/ /g, '-')}`), change);
      const found = inspectGoExecutable(path);
      expect(found, name).toMatchObject({ probeable: false, reason: expect.stringMatching(reason) });
      expect(found.version).toMatch(/^go1\.\d+/);
    }
  });

  it('takes a position-independent table’s zero text start from its load-time relocation', () => {
    const path = patchedCopy(builds.strippedPie, join(dir, 'pie-text-start-zero'), (s) => s.writeBigUInt64LE(0n, 24));
    const want = inspectGoExecutable(builds.fullPie);
    const got = inspectGoExecutable(path);
    if (!want.probeable || !got.probeable) throw new Error(`${JSON.stringify(want)} ${JSON.stringify(got)}`);
    expect(got.probe).toEqual(want.probe);
  });

  it('reports a function table whose records were overwritten', () => {
    // Zero the functab after its first pair: entries go out of order or the records no longer match.
    const path = patchedCopy(builds.stripped, join(dir, 'bad-functab'), (s) => {
      const pcln = Number(s.readBigUInt64LE(8 + 8 * 7));
      s.fill(0xee, pcln + 8, pcln + 8 + 4096);
    });
    const found = inspectGoExecutable(path);
    expect(found).toMatchObject({ probeable: false, reason: expect.stringMatching(/^stripped \(no symbol table\), pclntab function table out of order/) });
  });

  it('never throws on itab links and type data overwritten with random bytes, and finds no wrong itab', () => {
    const sections = withElf(builds.stripped, (elf) => ['.itablink', '.rodata'].map((n) => elf.section(n)!));
    const original = readFileSync(builds.stripped);
    const want = inspectGoExecutable(builds.stripped);
    if (!want.probeable) throw new Error(want.reason);
    const path = join(dir, 'random-types');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 }), fc.uint8Array({ minLength: 64, maxLength: 4096 }), fc.nat(), (which, garbage, where) => {
        const sec = sections[which]!;
        const file = Buffer.from(original);
        const at = sec.offset + (where % Math.max(1, sec.size - garbage.length));
        file.set(garbage.subarray(0, Math.min(garbage.length, sec.size)), at);
        writeFileSync(path, file);
        const got = inspectGoExecutable(path);
        if (!got.probeable) return typeof got.reason === 'string';
        // The probe points never move; the itab is the real one or none at all (fd then unchecked).
        expect(got.probe.writeOffset).toBe(want.probe.writeOffset);
        expect([0, want.probe.conf.tcpconn_itab]).toContain(got.probe.conf.tcpconn_itab);
        return true;
      }),
      { numRuns: 40 },
    );
  });

  it('parses every truncation of a real table without throwing', () => {
    const real = pclntabBytes(builds.stripped);
    const full = GoPclntab.parse(real);
    if (!full.ok) throw new Error(full.reason);
    const lengths = new Set<number>();
    for (let n = 0; n <= 256; n++) lengths.add(n);
    for (let n = 256; n < real.length; n += 4093) lengths.add(n);
    for (const n of lengths) {
      const cut = GoPclntab.parse(real.subarray(0, n));
      if (cut.ok) {
        // A prefix that still parses holds the whole function table; lookups stay in bounds.
        expect(() => cut.table.find([READ, WRITE])).not.toThrow();
        expect(() => cut.table.functions()).not.toThrow();
      } else {
        expect(cut.reason).toMatch(/pclntab/);
      }
    }
  });

  it('never throws on garbage: random bytes, or a real table with random bytes overwritten', () => {
    const real = pclntabBytes(builds.stripped);
    const header = real.subarray(0, 72);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
        const res = GoPclntab.parse(Buffer.from(bytes));
        return res.ok ? Array.isArray(res.table.functions().functions) : typeof res.reason === 'string';
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat({ max: 64 * 1024 }), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 16 }),
        fc.nat({ max: 64 * 1024 }),
        (edits, length) => {
          // A window of the real table (header kept so parsing goes deep), bytes overwritten.
          const bytes = Buffer.concat([header, real.subarray(72, 72 + length)]);
          for (const { at, value } of edits) if (at < bytes.length) bytes[at] = value;
          const res = GoPclntab.parse(bytes);
          if (!res.ok) return typeof res.reason === 'string';
          res.table.find([READ, WRITE]);
          res.table.functions();
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });
});
