// Finds TLS implementations to probe: each running process's executable (Go
// crypto/tls, OpenSSL/BoringSSL linked statically, Node.js) and the shared
// objects it maps (libssl, or any library exporting SSL_read/SSL_write), read
// through /proc/PID/root so files inside containers' root filesystems are
// found too; plus the host's own libssl so processes started later are covered
// before the next scan. uprobes attach to a file (inode), so each file is
// classified and probed once however many processes use it.
//
// A scan looks only at processes not seen before, or whose executable changed
// (exec after fork): one stat of /proc/PID/exe per process per scan.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { classifyTlsBinary, type TlsBinary } from './tls-binaries.js';

const HOST_LIBSSL_DIRS = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib'];
/** Mapped files never worth opening: the vdso and friends have no path, these have no TLS. */
const SKIP_MAPPED = /^\/(?:dev|proc|sys|memfd:)|\/(?:ld-linux[^/]*|libc\.so[.\d]*|libm\.so[.\d]*|libpthread\.so[.\d]*|libdl\.so[.\d]*|librt\.so[.\d]*|libgcc_s\.so[.\d]*|libstdc\+\+\.so[.\d]*|libz\.so[.\d]*|libcrypto\.so[.\d]*)$|\.(?:cache|ttf|otf|mo|dat|jar)$/;

export interface TlsFile extends TlsBinary {
  /** Path usable from the agent's mount namespace. */
  path: string;
  /** dev:inode, the identity uprobes attach to. */
  fileId: string;
}

export interface TlsProcess {
  pid: number;
  comm: string;
  /** The executable as the process sees it (inside its own mount namespace). */
  exe: string;
  /** dev:inode of the executable, to notice an exec. */
  exeId: string;
  /** TLS files this process uses (its executable and/or mapped libraries). */
  files: Set<string>;
  /** Scanned right at exec, before the dynamic loader mapped its libraries: the next full scan looks again. */
  atExec: boolean;
}

export interface ScanResult {
  /** Files now used by at least one process that were not in use before the scan. */
  newlyUsed: TlsFile[];
  /** Files no live process uses any more. */
  unused: TlsFile[];
}

export class TlsDiscovery {
  /** Classification of every file looked at, TLS or not (undefined: no TLS). */
  readonly #classified = new Map<string, TlsFile | undefined>();
  readonly #processes = new Map<number, TlsProcess>();
  /** fileId -> pids using it. */
  readonly #users = new Map<string, Set<number>>();
  /** Files that bad input made unreadable, counted rather than thrown. */
  unreadable = 0;

  constructor(
    readonly selfPid: number = process.pid,
    readonly procRoot: string = '/proc',
  ) {}

  /** The host's libssl files, probed at start whether or not a process maps them yet. */
  hostLibraries(): TlsFile[] {
    const found: TlsFile[] = [];
    for (const dir of HOST_LIBSSL_DIRS) {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        if (!/^libssl\.so\.\d+$/.test(name)) continue;
        const file = this.#classify(`${dir}/${name}`);
        if (file && !found.some((f) => f.fileId === file.fileId)) found.push(file);
      }
    }
    return found;
  }

  /** Processes using a TLS file, as of the last scan. */
  processes(): TlsProcess[] {
    return [...this.#processes.values()].filter((p) => p.files.size > 0);
  }

  file(fileId: string): TlsFile | undefined {
    return this.#classified.get(fileId);
  }

  users(fileId: string): number {
    return this.#users.get(fileId)?.size ?? 0;
  }

  /** Looks at new (or re-exec'd) processes and forgets exited ones. */
  scan(): ScanResult {
    const result: ScanResult = { newlyUsed: [], unused: [] };
    const alive = new Set<number>();
    let entries: string[];
    try {
      entries = readdirSync(this.procRoot);
    } catch {
      return result;
    }
    for (const entry of entries) {
      const pid = Number(entry);
      if (Number.isInteger(pid) && pid > 0 && this.#visit(pid, result, false)) alive.add(pid);
    }
    for (const [pid, proc] of this.#processes) if (!alive.has(pid)) this.#dropProcess(proc, result.unused);
    return this.#settle(result);
  }

  /** Looks at these processes now (they just exec'd), without a full scan. */
  scanPids(pids: Iterable<number>): ScanResult {
    const result: ScanResult = { newlyUsed: [], unused: [] };
    for (const pid of new Set(pids)) {
      if (this.#visit(pid, result, true)) continue;
      const gone = this.#processes.get(pid);
      if (gone) this.#dropProcess(gone, result.unused);
    }
    return this.#settle(result);
  }

  /** A file that lost its last user and gained a new one in the same scan stays in use. */
  #settle(result: ScanResult): ScanResult {
    return { newlyUsed: result.newlyUsed, unused: result.unused.filter((f) => this.users(f.fileId) === 0) };
  }

  /** Scans pid if new or re-exec'd; false when it cannot be read (exited, kernel thread). */
  #visit(pid: number, result: ScanResult, atExec: boolean): boolean {
    if (pid === this.selfPid) return false;
    let exeId: string;
    try {
      const st = statSync(`${this.procRoot}/${pid}/exe`);
      exeId = `${st.dev}:${st.ino}`;
    } catch {
      return false;
    }
    const known = this.#processes.get(pid);
    if (known && known.exeId === exeId && !known.atExec) return true;
    if (known) this.#dropProcess(known, result.unused);
    const proc = this.#scanProcess(pid, exeId, atExec);
    if (!proc) return false;
    this.#processes.set(pid, proc);
    for (const fileId of proc.files) {
      let users = this.#users.get(fileId);
      if (!users) this.#users.set(fileId, (users = new Set()));
      if (users.size === 0) result.newlyUsed.push(this.#classified.get(fileId)!);
      users.add(pid);
    }
    return true;
  }

  #dropProcess(proc: TlsProcess, unused: TlsFile[]): void {
    this.#processes.delete(proc.pid);
    for (const fileId of proc.files) {
      const users = this.#users.get(fileId);
      if (!users) continue;
      users.delete(proc.pid);
      if (users.size === 0) {
        this.#users.delete(fileId);
        const file = this.#classified.get(fileId);
        if (file) unused.push(file);
      }
    }
  }

  #scanProcess(pid: number, exeId: string, atExec: boolean): TlsProcess | undefined {
    const base = `${this.procRoot}/${pid}`;
    let exe: string;
    let comm: string;
    let maps: string;
    try {
      exe = readlinkSync(`${base}/exe`);
      comm = readFileSync(`${base}/comm`, 'latin1').trim();
      maps = readFileSync(`${base}/maps`, 'latin1');
    } catch {
      return undefined;
    }
    const proc: TlsProcess = { pid, comm, exe, exeId, files: new Set(), atExec };
    // The executable: through /proc/PID/exe, which names the right inode even
    // when the file was replaced or deleted after exec; its classification is
    // cached under the inode.
    const exeFile = this.#classifyAs(exeId, exe.endsWith(' (deleted)') ? `${base}/exe` : `${base}/root${exe}`);
    if (exeFile) proc.files.add(exeFile.fileId);
    const seen = new Set<string>();
    for (const line of maps.split('\n')) {
      // address perms offset dev inode path: only executable file mappings.
      const fields = line.split(/\s+/, 6);
      if (fields.length < 6 || fields[1]?.[2] !== 'x' || fields[4] === '0') continue;
      const slash = line.indexOf('/');
      if (slash < 0) continue;
      const path = line.slice(slash);
      if (path === exe || seen.has(path) || SKIP_MAPPED.test(path) || path.endsWith(' (deleted)')) continue;
      seen.add(path);
      const file = this.#classify(`${base}/root${path}`);
      if (file) proc.files.add(file.fileId);
    }
    return proc;
  }

  #classify(path: string): TlsFile | undefined {
    let fileId: string;
    try {
      const st = statSync(path);
      fileId = `${st.dev}:${st.ino}`;
    } catch {
      return undefined;
    }
    return this.#classifyAs(fileId, path);
  }

  #classifyAs(fileId: string, path: string): TlsFile | undefined {
    if (this.#classified.has(fileId)) return this.#classified.get(fileId);
    let found: TlsBinary | undefined;
    try {
      found = classifyTlsBinary(path);
    } catch {
      this.unreadable++;
      found = undefined;
    }
    const file = found ? { ...found, path, fileId } : undefined;
    this.#classified.set(fileId, file);
    return file;
  }
}
