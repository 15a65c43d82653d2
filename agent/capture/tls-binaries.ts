// What TLS implementation an executable or shared object carries, read from
// the file: Go crypto/tls (Go build info), or SSL_read/SSL_write exported as
// dynamic symbols (the system libssl, OpenSSL or BoringSSL linked statically
// into a program, Node.js), or named in the full symbol table of an unstripped
// program that links them without exporting them. Each file is classified
// once by its dev:inode.
import { basename } from 'node:path';
import { ElfError, ElfFile, isFunction, type ElfSymbol } from './tls-elf.js';
import { inspectGoExecutable, isGoExecutable, goVersion } from './tls-go.js';
import { findOpensslCore, OPENSSL_CORE_SYMBOLS } from './tls-openssl.js';
import type { GoTlsProbeConfig, OpensslCore } from '../../native/loader.js';

export type TlsLibraryKind = 'openssl-dynamic' | 'openssl-static' | 'boringssl' | 'go' | 'node';

export interface TlsBinary {
  kind: TlsLibraryKind;
  /** e.g. "OpenSSL 3.0.19", "go1.19.8"; absent when the file does not say. */
  version?: string;
  /** Go only: where to probe. */
  go?: GoTlsProbeConfig;
  /** OpenSSL: the internal read/write functions to probe instead of SSL_read/SSL_write(_ex), when found. */
  sslCore?: OpensslCore;
  /** Why this file cannot be probed (stripped, unsupported Go version, ...). */
  unprobeable?: string;
}

const SSL_EXPORTS = ['SSL_read', 'SSL_write'];
const BORINGSSL_MARKERS = ['BORINGSSL_self_test', 'BORINGSSL_integrity_test'];
const NODE_MARKERS = ['napi_create_function', 'node_module_register'];
/** .rodata scanned for the OpenSSL version string, at most. */
const VERSION_SCAN_BYTES = 64 << 20;
const SCAN_CHUNK = 4 << 20;

/** The TLS implementation in the ELF file at path, or undefined when it has none (or is not ELF). */
export function classifyTlsBinary(path: string): TlsBinary | undefined {
  let elf: ElfFile;
  try {
    elf = ElfFile.open(path);
  } catch {
    return undefined;
  }
  try {
    if (isGoExecutable(elf)) {
      const version = goVersion(elf);
      elf.close();
      const found = inspectGoExecutable(path);
      if (found.probeable) return { kind: 'go', version: found.version, go: found.probe };
      // A Go program that does not link crypto/tls has nothing to probe and nothing to report.
      if (found.reason === 'does not use crypto/tls') return undefined;
      return { kind: 'go', version: found.version ?? version, unprobeable: found.reason };
    }
    const wanted = new Set([...SSL_EXPORTS, ...OPENSSL_CORE_SYMBOLS, ...BORINGSSL_MARKERS, ...NODE_MARKERS]);
    const hasSsl = (found: Map<string, ElfSymbol>): boolean => SSL_EXPORTS.every((n) => found.get(n) && isFunction(found.get(n)!));
    let exports = elf.symbols('dynsym', wanted);
    // Linked statically without exporting them: the full symbol table, if not stripped, still names them.
    if (!hasSsl(exports) && elf.hasSymtab) exports = elf.symbols('symtab', wanted);
    if (!hasSsl(exports)) {
      elf.close();
      return undefined;
    }
    const name = basename(path);
    let kind: TlsLibraryKind;
    if (BORINGSSL_MARKERS.some((m) => exports.has(m))) kind = 'boringssl';
    else if (/^libssl\.so/.test(name)) kind = 'openssl-dynamic';
    else if (NODE_MARKERS.some((m) => exports.has(m))) kind = 'node';
    else kind = 'openssl-static';
    const version = kind === 'openssl-dynamic' ? sonameVersion(name) : opensslVersion(elf);
    const sslCore = kind === 'boringssl' ? undefined : findOpensslCore(elf, exports);
    elf.close();
    return { kind, ...(version ? { version } : {}), ...(sslCore ? { sslCore } : {}) };
  } catch (err) {
    try {
      elf.close();
    } catch {
      // already closed
    }
    if (err instanceof ElfError || err instanceof RangeError) return undefined;
    throw err;
  }
}

/** "libssl.so.3" -> "OpenSSL 3" (the version string itself lives in libcrypto). */
function sonameVersion(name: string): string | undefined {
  const m = /^libssl\.so\.([\d.]+)$/.exec(name);
  return m ? `OpenSSL ${m[1]}` : undefined;
}

/** The "OpenSSL x.y.z" string in .rodata of a program that links OpenSSL statically. */
function opensslVersion(elf: ElfFile): string | undefined {
  const rodata = elf.section('.rodata');
  if (!rodata) return undefined;
  const end = rodata.offset + Math.min(rodata.size, VERSION_SCAN_BYTES);
  const pattern = /OpenSSL \d+\.\d+\.\d+[a-z]?(?:\+quic)?/;
  // Chunks overlap by 64 bytes so a string split across two is still found.
  for (let at = rodata.offset; at < end; at += SCAN_CHUNK - 64) {
    const chunk = elf.read(at, Math.min(SCAN_CHUNK, end - at)).toString('latin1');
    const m = pattern.exec(chunk);
    if (m) return m[0];
    if (at + SCAN_CHUNK >= end) break;
  }
  return undefined;
}
