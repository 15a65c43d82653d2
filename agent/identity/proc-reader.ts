// What /proc says about one process. Reads are synchronous and small (a few
// hundred bytes each) and happen once per new process, plus a start-time check
// when a cache entry is re-verified; a process that is gone yields undefined.
import { readFileSync, readlinkSync } from 'node:fs';
import { parseProcCgroup, type CgroupIdentity } from './cgroup-path.js';

export interface ProcessFacts {
  pid: number;
  /** Field 22 of /proc/PID/stat, in clock ticks since boot: with the pid, names one process. */
  startTime: number;
  comm: string;
  /** Absent when the link cannot be read (kernel thread, exited, no ptrace access). */
  exe?: string;
  /** Effective uid. */
  uid?: number;
  cgroup: CgroupIdentity;
}

interface StatFields {
  comm: string;
  startTime: number;
}

/**
 * Parses /proc/PID/stat. comm sits in parentheses and may itself contain
 * spaces and parentheses, so fields are counted from the last ')'.
 */
export function parseStat(text: string): StatFields | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  // After ") ": field 3 (state) is index 0, so field 22 (starttime) is index 19.
  const rest = text.slice(close + 2).split(' ');
  const startTime = Number(rest[19]);
  if (!Number.isSafeInteger(startTime) || startTime < 0) return undefined;
  return { comm: text.slice(open + 1, close), startTime };
}

/** The effective uid from /proc/PID/status (`Uid: real effective saved fs`). */
export function parseStatusUid(text: string): number | undefined {
  const m = /^Uid:\s+\d+\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

export class ProcReader {
  readonly #root: string;

  constructor(procRoot = '/proc') {
    this.#root = procRoot;
  }

  /** Only the start time: the cheap check that a pid still names the same process. */
  startTime(pid: number): number | undefined {
    const stat = readText(`${this.#root}/${pid}/stat`);
    return stat === undefined ? undefined : parseStat(stat)?.startTime;
  }

  read(pid: number): ProcessFacts | undefined {
    const statText = readText(`${this.#root}/${pid}/stat`);
    const stat = statText === undefined ? undefined : parseStat(statText);
    if (!stat) return undefined;
    const facts: ProcessFacts = { pid, startTime: stat.startTime, comm: stat.comm, cgroup: parseProcCgroup(readText(`${this.#root}/${pid}/cgroup`) ?? '') };
    try {
      facts.exe = readlinkSync(`${this.#root}/${pid}/exe`).replace(/ \(deleted\)$/, '');
    } catch {
      // Kernel threads have no exe; other failures leave it unknown.
    }
    const statusText = readText(`${this.#root}/${pid}/status`);
    const uid = statusText === undefined ? undefined : parseStatusUid(statusText);
    if (uid !== undefined) facts.uid = uid;
    // Read last: if the pid was reused while we read, the facts would mix two processes.
    if (this.startTime(pid) !== stat.startTime) return undefined;
    return facts;
  }
}
