// The x86-64 length decoder that finds RET instructions in Go functions,
// checked against llvm-objdump's instruction boundaries over every function
// of the crypto/tls and net/http packages of a real Go binary.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElfFile, isFunction } from '../../agent/capture/tls-elf.js';
import { stackCheckJbe } from '../../agent/capture/tls-go.js';
import { decodeAll, decodeInstruction, findReturns } from '../../agent/capture/tls-x86.js';
import { buildGo } from '../fixtures/tls/programs.js';

/** Instruction start addresses llvm-objdump reports for [start, stop). */
function objdumpStarts(exe: string, start: number, stop: number): number[] {
  const out = execFileSync('llvm-objdump', ['-d', '--no-show-raw-insn', `--start-address=0x${start.toString(16)}`, `--stop-address=0x${stop.toString(16)}`, exe], { maxBuffer: 256 << 20 }).toString();
  const starts: number[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s+([0-9a-f]+):\s/.exec(line);
    if (m) starts.push(parseInt(m[1]!, 16));
  }
  return starts;
}

describe('x86-64 instruction lengths', () => {
  let dir: string;
  let exe: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'flowscope-x86-'));
    exe = buildGo('go-server', dir);
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('decodes hand-written encodings', () => {
    const cases: [number[], number][] = [
      [[0xc3], 1], // ret
      [[0x48, 0x8b, 0x44, 0x24, 0x08], 5], // mov rax, [rsp+8]
      [[0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8], 10], // movabs rax, imm64
      [[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00], 6], // nop word [rax+rax]
      [[0x0f, 0x84, 0xc3, 0xc3, 0xc3, 0xc3], 6], // je rel32 full of C3 bytes
      [[0xf7, 0x05, 1, 0, 0, 0, 0xff, 0, 0, 0], 10], // test dword [rip+1], imm32
      [[0xf7, 0xd8], 2], // neg eax: F7 /3 has no immediate
      [[0xc5, 0xfe, 0x6f, 0x06], 4], // vmovdqu ymm0, [rsi]
      [[0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x08], 6], // palignr xmm0, xmm1, 8
    ];
    for (const [bytes, length] of cases) expect(decodeInstruction(Uint8Array.from(bytes), 0).length).toBe(length);
    expect(findReturns(Uint8Array.from([0xb8, 0xc3, 0, 0, 0, 0xc3]))).toEqual([5]);
    expect(() => decodeInstruction(Uint8Array.from([0x48, 0x8b]), 0)).toThrow(RangeError);
  });

  it('finds the stack-check JBE of Go prologues, and nothing in other shapes', () => {
    const small = [0x49, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0, 1, 0, 0, 0x48, 0x83, 0xec, 0x68]; // cmp rsp,[r14+16]; jbe; sub rsp
    const large = [0x4c, 0x8d, 0x64, 0x24, 0x98, 0x4d, 0x3b, 0x66, 0x10, 0x76, 0x10]; // lea r12,[rsp-104]; cmp r12,[r14+16]; jbe rel8
    expect(stackCheckJbe(Uint8Array.from(small))).toBe(4);
    expect(stackCheckJbe(Uint8Array.from(large))).toBe(9);
    expect(stackCheckJbe(Uint8Array.from([0x55, 0x48, 0x89, 0xe5, 0x76, 0x00]))).toBeUndefined(); // push rbp; mov rbp,rsp; jbe
    expect(stackCheckJbe(Uint8Array.from([0x76, 0x00]))).toBeUndefined(); // a JBE first is no prologue
  });

  it('agrees with llvm-objdump on every crypto/tls and net/http function', () => {
    const elf = ElfFile.open(exe);
    try {
      const symtab = elf.sections.find((s) => s.name === '.symtab')!;
      const strtab = elf.sections[symtab.link]!;
      const syms = elf.read(symtab.offset, symtab.size);
      const strs = elf.read(strtab.offset, strtab.size);
      const names = new Set<string>();
      for (let at = 0; at + 24 <= syms.length; at += 24) {
        const off = syms.readUInt32LE(at);
        const name = strs.subarray(off, strs.indexOf(0, off)).toString('latin1');
        if (/^(crypto\/tls|net\/http)\./.test(name)) names.add(name);
      }
      const funcs = [...elf.symbols('symtab', names).values()].filter((s) => isFunction(s) && s.size > 0);
      expect(funcs.length).toBeGreaterThan(500);
      const lo = Math.min(...funcs.map((f) => f.value));
      const hi = Math.max(...funcs.map((f) => f.value + f.size));
      const reference = new Set(objdumpStarts(exe, lo, hi));
      let checked = 0;
      for (const f of funcs) {
        const code = elf.readVaddr(f.value, f.size);
        for (const insn of decodeAll(code)) {
          expect(reference.has(f.value + insn.offset), `${f.name}+${insn.offset}`).toBe(true);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(50_000);
    } finally {
      elf.close();
    }
  });
});
