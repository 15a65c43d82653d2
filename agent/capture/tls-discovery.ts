// Finds TLS libraries to probe: libssl mapped by running processes (read through
// /proc/PID/root so libraries inside containers' root filesystems are found
// too), plus the host's own libssl so processes started later are covered.
// uprobes attach to a file (inode), so each file is probed once however many
// processes map it, and processes started after the agent are covered as soon
// as they map a file already probed.
import { readdirSync, readFileSync, statSync } from 'node:fs';

const LIBSSL = /\/libssl\.so[.\d]*$/;
const HOST_LIBSSL_DIRS = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib'];

export interface TlsLibrary {
  /** Path usable from the agent's mount namespace. */
  path: string;
  /** dev:inode, the identity uprobes attach to. */
  fileId: string;
}

export class TlsDiscovery {
  /** pids already scanned; forgotten when they exit. */
  readonly #scannedPids = new Set<number>();
  readonly #knownFiles = new Set<string>();

  constructor(readonly selfPid: number = process.pid) {}

  /** The host's libssl files, probed at start whether or not a process maps them yet. */
  hostLibraries(): TlsLibrary[] {
    const found: TlsLibrary[] = [];
    for (const dir of HOST_LIBSSL_DIRS) {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        if (!/^libssl\.so\.\d+$/.test(name)) continue;
        const lib = this.#identify(`${dir}/${name}`);
        if (lib) found.push(lib);
      }
    }
    return found;
  }

  /** Libraries mapped by processes not scanned before and not yet known. */
  scanNewProcesses(): TlsLibrary[] {
    const found: TlsLibrary[] = [];
    const alive = new Set<number>();
    let entries: string[];
    try {
      entries = readdirSync('/proc');
    } catch {
      return found;
    }
    for (const entry of entries) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      alive.add(pid);
      if (pid === this.selfPid || this.#scannedPids.has(pid)) continue;
      this.#scannedPids.add(pid);
      let maps: string;
      try {
        maps = readFileSync(`/proc/${pid}/maps`, 'latin1');
      } catch {
        continue; // exited, or a kernel thread
      }
      for (const line of maps.split('\n')) {
        const slash = line.indexOf('/');
        if (slash < 0) continue;
        const path = line.slice(slash);
        if (!LIBSSL.test(path)) continue;
        const lib = this.#identify(`/proc/${pid}/root${path}`);
        if (lib) found.push(lib);
      }
    }
    for (const pid of this.#scannedPids) if (!alive.has(pid)) this.#scannedPids.delete(pid);
    return found;
  }

  #identify(path: string): TlsLibrary | undefined {
    let fileId: string;
    try {
      const st = statSync(path);
      fileId = `${st.dev}:${st.ino}`;
    } catch {
      return undefined;
    }
    if (this.#knownFiles.has(fileId)) return undefined;
    this.#knownFiles.add(fileId);
    return { path, fileId };
  }
}
