import { describe, expect, it } from 'vitest';
import { ExitedProcesses } from '../../../agent/capture/exited-processes.js';

describe('ExitedProcesses', () => {
  it('ends a gone process only after a drain started later has emptied the ring buffer', () => {
    const exited = new ExitedProcesses();
    const gone = new Set([42]);
    const isGone = (tgid: number) => gone.has(tgid);
    const inFlight = exited.drainStarted();
    // Found gone while a drain is in flight: that drain may hold only part of its records.
    expect(exited.sweep([42, 7], isGone)).toEqual(new Set());
    exited.batchHandled(inFlight, true);
    expect(exited.sweep([42, 7], isGone)).toEqual(new Set());
    // A later drain that stopped with its buffer full did not reach the end of the ring.
    const full = exited.drainStarted();
    exited.batchHandled(full, false);
    expect(exited.sweep([42, 7], isGone)).toEqual(new Set());
    const emptied = exited.drainStarted();
    exited.batchHandled(emptied, true);
    expect(exited.sweep([42, 7], isGone)).toEqual(new Set([42]));
    // Ended once: not again.
    expect(exited.sweep([], isGone)).toEqual(new Set());
  });

  it('forgets a process whose pid came back in use before it was ended', () => {
    const exited = new ExitedProcesses();
    const gone = new Set([42]);
    exited.sweep([42], (t) => gone.has(t));
    gone.delete(42);
    exited.batchHandled(exited.drainStarted(), true);
    expect(exited.sweep([42], (t) => gone.has(t))).toEqual(new Set());
    // Gone again later: counted from then, not from the first sighting.
    gone.add(42);
    expect(exited.sweep([42], (t) => gone.has(t))).toEqual(new Set());
    exited.batchHandled(exited.drainStarted(), true);
    expect(exited.sweep([42], (t) => gone.has(t))).toEqual(new Set([42]));
  });

  it('does not end a live process', () => {
    const exited = new ExitedProcesses();
    exited.batchHandled(exited.drainStarted(), true);
    expect(exited.sweep([1, 2], () => false)).toEqual(new Set());
    exited.batchHandled(exited.drainStarted(), true);
    expect(exited.sweep([1, 2], () => false)).toEqual(new Set());
  });
});
