// The internal functions OpenSSL's SSL_read/SSL_write and their _ex forms
// share, found in machine code: checked against llvm-objdump's reading of
// Debian's libssl, and on hand-assembled layouts where they must not be used.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { classifyTlsBinary } from '../../agent/capture/tls-binaries.js';
import { ElfFile } from '../../agent/capture/tls-elf.js';
import { sharedCallee, type FunctionCode } from '../../agent/capture/tls-openssl.js';

const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';

/** Direct call targets in one exported function, as llvm-objdump disassembles it, with what it names them. */
function objdumpCalls(symbol: string): { target: number; name: string }[] {
  const out = execFileSync('llvm-objdump', ['-d', `--disassemble-symbols=${symbol}`, LIBSSL], { encoding: 'utf8' });
  return [...out.matchAll(/\bcallq?\s+0x([0-9a-f]+) <([^>]+)>/g)].map((m) => ({ target: parseInt(m[1]!, 16), name: m[2]! }));
}

describe('OpenSSL internal read/write functions', () => {
  it('are, in Debian libssl, the one non-PLT call of SSL_read/SSL_write and the first call of the _ex forms', () => {
    const found = classifyTlsBinary(LIBSSL)?.sslCore;
    expect(found).toBeDefined();
    const elf = ElfFile.open(LIBSSL);
    try {
      for (const [plain, ex, offset] of [
        ['SSL_read', 'SSL_read_ex', found!.readOffset],
        ['SSL_write', 'SSL_write_ex', found!.writeOffset],
      ] as const) {
        const local = objdumpCalls(plain).filter((c) => !c.name.includes('.plt'));
        expect(local).toHaveLength(1);
        expect(objdumpCalls(ex)[0]!.target).toBe(local[0]!.target);
        expect(elf.fileOffset(local[0]!.target)).toBe(offset);
      }
    } finally {
      elf.close();
    }
    expect(found!.readOffset).not.toBe(found!.writeOffset);
  });
});

// Hand-assembled: exports at 0x1000 and 0x1100, the internal function at
// 0x2000, a PLT stub at 0x500 (outside .text).
const CORE = 0x2000;
const PLT = 0x500;
const inText = (vaddr: number): boolean => vaddr >= 0x1000 && vaddr < 0x10000;

/** Assembles a function at vaddr from byte arrays and rel32 branches (`{ op, to }`). */
function fn(vaddr: number, parts: (number[] | { op: number; to: number })[]): FunctionCode {
  const bytes: number[] = [];
  for (const part of parts) {
    if (Array.isArray(part)) {
      bytes.push(...part);
      continue;
    }
    const rel = part.to - (vaddr + bytes.length + 5);
    bytes.push(part.op, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >>> 24) & 0xff);
  }
  return { vaddr, code: Uint8Array.from(bytes) };
}
const call = (to: number) => ({ op: 0xe8, to });
const jmp = (to: number) => ({ op: 0xe9, to });
const SUB_RSP_8 = [0x48, 0x83, 0xec, 0x08];
const RET = [0xc3];
// SSL_read as Debian builds it: stack frame, the internal call, error and stack-check calls through the PLT.
const PLAIN = fn(0x1000, [[0x48, 0x83, 0xec, 0x18], [0x48, 0x89, 0xe1], call(CORE), call(PLT), call(PLT + 0x10), RET]);

describe('finding the function an OpenSSL export and its _ex form share', () => {
  it('takes the _ex form calling it, or jumping to it, with its arguments untouched', () => {
    expect(sharedCallee(PLAIN, fn(0x1100, [SUB_RSP_8, call(CORE), RET]), inText)).toBe(CORE);
    expect(sharedCallee(PLAIN, fn(0x1100, [[0xf3, 0x0f, 0x1e, 0xfa], [0x41, 0x54], jmp(CORE)]), inText)).toBe(CORE);
  });

  it('refuses an _ex form that changes an argument register first (OpenSSL 3.3 SSL_write_ex passes flags)', () => {
    const xorEcx = [0x31, 0xc9];
    const movRcxR8 = [0x49, 0x89, 0xc8];
    expect(sharedCallee(PLAIN, fn(0x1100, [SUB_RSP_8, movRcxR8, xorEcx, call(CORE), RET]), inText)).toBeUndefined();
  });

  it('refuses an _ex form that calls something else first', () => {
    expect(sharedCallee(PLAIN, fn(0x1100, [SUB_RSP_8, call(0x3000), call(CORE), RET]), inText)).toBeUndefined();
  });

  it('refuses an export with no single call into .text', () => {
    const ex = fn(0x1100, [SUB_RSP_8, call(CORE), RET]);
    expect(sharedCallee(fn(0x1000, [call(CORE), call(0x3000), RET]), ex, inText)).toBeUndefined();
    expect(sharedCallee(fn(0x1000, [call(PLT), RET]), ex, inText)).toBeUndefined();
  });

  it('refuses a missing _ex form, and code that does not decode', () => {
    expect(sharedCallee(PLAIN, undefined, inText)).toBeUndefined();
    expect(() => sharedCallee(PLAIN, fn(0x1100, [SUB_RSP_8, [0xe8, 0x00]]), inText)).toThrow(RangeError);
  });
});
