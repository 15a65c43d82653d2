// Kernel cgroup id → cgroup v2 path. The capture records the cgroup id of the
// task that opened each connection (bpf_get_current_cgroup_id: the inode
// number of its cgroup v2 directory), which still names the container after a
// short-lived process is gone from /proc. The tree is walked only on a miss,
// at most once per `rescanAfterMs`, and the table is capped.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The cgroup v2 mount point (/sys/fs/cgroup, or …/unified on hybrid hosts). */
export function cgroup2Mount(mountsText?: string): string | undefined {
  let text = mountsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mounts', 'utf8');
    } catch {
      return undefined;
    }
  }
  for (const line of text.split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type === 'cgroup2' && mountPoint) return mountPoint;
  }
  return undefined;
}

export class CgroupIds {
  /** Directory walks done (each on a miss, rate limited). */
  scans = 0;
  readonly #root: string | undefined;
  readonly #maxEntries: number;
  readonly #rescanAfterMs: number;
  #paths = new Map<number, string>();
  #lastScanMs = -Infinity;

  constructor(root = cgroup2Mount(), maxEntries = 100_000, rescanAfterMs = 1000) {
    this.#root = root;
    this.#maxEntries = maxEntries;
    this.#rescanAfterMs = rescanAfterMs;
  }

  /** The cgroup path (as /proc/PID/cgroup writes it) of a kernel cgroup id. */
  pathOf(id: number): string | undefined {
    if (!this.#root || !(id > 0)) return undefined;
    const known = this.#paths.get(id);
    if (known !== undefined) return known;
    const now = Date.now();
    if (now - this.#lastScanMs < this.#rescanAfterMs) return undefined;
    this.#lastScanMs = now;
    this.#scan(this.#root);
    return this.#paths.get(id);
  }

  #scan(root: string): void {
    this.scans++;
    const paths = new Map<number, string>();
    const pending: string[] = ['/'];
    while (pending.length > 0 && paths.size < this.#maxEntries) {
      const relative = pending.pop()!;
      const absolute = relative === '/' ? root : join(root, relative);
      try {
        paths.set(statSync(absolute).ino, relative);
        for (const entry of readdirSync(absolute, { withFileTypes: true })) {
          if (entry.isDirectory()) pending.push(relative === '/' ? `/${entry.name}` : `${relative}/${entry.name}`);
        }
      } catch {
        // Removed while walking.
      }
    }
    this.#paths = paths;
  }
}
