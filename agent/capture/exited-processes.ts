// When a process exits, the kernel closes its sockets without a close()
// syscall, so no close record comes: the agent finds such processes gone from
// /proc and ends their connections itself. A process's last records can still
// be in the ring buffer, or in the batch being drained, when it is found gone
// (the agent runs behind under load); ending its connections at once would
// turn those records into mid-stream connections with gaps. So a process found
// gone is ended only after a drain that started later has emptied the ring
// buffer and its batch has been handled: by then every record it made has been.

export class ExitedProcesses {
  #drainsStarted = 0;
  /** The latest drain that emptied the ring buffer and whose batch has been handled. */
  #emptiedThrough = 0;
  /** Processes found gone, with the number of the last drain started at that moment. */
  readonly #found = new Map<number, number>();

  /** Numbers the drain about to start. */
  drainStarted(): number {
    return ++this.#drainsStarted;
  }

  /** The batch of drain `drain` has been handled; `emptied`: that drain left the ring buffer empty. */
  batchHandled(drain: number, emptied: boolean): void {
    if (emptied && drain > this.#emptiedThrough) this.#emptiedThrough = drain;
  }

  /**
   * The processes among `tgids` whose connections can end now. Others that
   * `isGone` reports are remembered and returned by a later call once their
   * records are all handled.
   */
  sweep(tgids: Iterable<number>, isGone: (tgid: number) => boolean): Set<number> {
    const ended = new Set<number>();
    for (const [tgid, foundAt] of this.#found) {
      if (!isGone(tgid)) this.#found.delete(tgid); // the pid was reused: a new process
      else if (this.#emptiedThrough > foundAt) ended.add(tgid);
    }
    for (const tgid of ended) this.#found.delete(tgid);
    for (const tgid of tgids) {
      if (!ended.has(tgid) && !this.#found.has(tgid) && isGone(tgid)) this.#found.set(tgid, this.#drainsStarted);
    }
    return ended;
  }
}
