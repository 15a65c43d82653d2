// What every live command needs: Ctrl-C stops cleanly, a closed stdout (piped
// into head) ends the command quietly, notices go to stderr.
import type { StreamClient } from '../../stream/stream-client.js';

function stopOnInterrupt(stop: () => void): () => void {
  const handler = (): void => stop();
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** Runs the client until it ends or Ctrl-C (or SIGTERM) stops it. */
export async function runUntilInterrupted(client: StreamClient): Promise<void> {
  const release = stopOnInterrupt(() => client.stop());
  try {
    await client.run();
  } finally {
    release();
  }
}

/** Writes to stdout; once the reader has gone, stops the client instead. */
export function stdoutWriter(client: () => StreamClient | undefined): (text: string) => void {
  let closed = false;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // EPIPE: piped into head, which has read enough. Anything else is worth one line.
    if (err.code !== 'EPIPE') notice(`cannot write to stdout: ${err.message}`);
    closed = true;
    client()?.stop();
  });
  return (text) => {
    if (!closed) process.stdout.write(text);
  };
}

export function notice(text: string): void {
  process.stderr.write(`flowscope: ${text}\n`);
}

export function droppedNotice(count: number, what: string): void {
  notice(`the agent dropped ${count} ${what} for this stream because it was reading too slowly`);
}
