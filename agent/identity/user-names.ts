// uid → user name from passwd files. The host's file is read once and refreshed
// in the background; a container has its own /etc/passwd (read through
// /proc/PID/root once per container), so its uids are named by its own file.
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';

export function parsePasswd(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    const uid = Number(fields[2]);
    if (fields.length < 3 || fields[0] === '' || !Number.isSafeInteger(uid) || fields[2] === '') continue;
    // The first entry for a uid wins, as getpwuid does.
    if (!names.has(uid)) names.set(uid, fields[0]!);
  }
  return names;
}

function readPasswd(path: string): Map<number, string> | undefined {
  try {
    return parsePasswd(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

export class UserNames {
  #host: Map<number, string>;
  #hostMtimeMs = 0;
  readonly #hostPath: string;
  readonly #containers = new Map<string, Map<number, string>>();
  readonly #maxContainers: number;

  constructor(hostPasswd = '/etc/passwd', maxContainers = 256) {
    this.#hostPath = hostPasswd;
    this.#maxContainers = maxContainers;
    this.#host = readPasswd(hostPasswd) ?? new Map();
  }

  /**
   * The user's name, or the uid as a decimal string when no passwd entry names
   * it. `container` names the process's own passwd file (via `procRoot/pid/root`);
   * without a path, only a file read earlier for that container is used. A
   * container file that cannot be read (the process is exiting, or the image
   * has none) names nothing and is not remembered: the host's names are not
   * the container's, and a later process of the container may read its own.
   */
  name(uid: number, container?: { id: string; passwdPath?: string }): string {
    let names = this.#host;
    if (container) {
      let own = this.#containers.get(container.id);
      if (!own) {
        own = container.passwdPath === undefined ? undefined : readPasswd(container.passwdPath);
        if (!own) return String(uid);
        if (this.#containers.size >= this.#maxContainers) this.#containers.delete(this.#containers.keys().next().value!);
        this.#containers.set(container.id, own);
      }
      names = own;
    }
    return names.get(uid) ?? String(uid);
  }

  /** Re-reads the host file when it changed (async; called from a timer). */
  async refresh(): Promise<void> {
    try {
      const { mtimeMs } = await stat(this.#hostPath);
      if (mtimeMs === this.#hostMtimeMs) return;
      this.#host = parsePasswd(await readFile(this.#hostPath, 'utf8'));
      this.#hostMtimeMs = mtimeMs;
    } catch {
      // Keep what we have.
    }
  }
}
