// Structured logs (pino) on stderr, so stdout stays free for `--flows-out -`.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string = process.env.FLOWSCOPE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'flowscope', level }, pino.destination({ fd: 2, sync: false }));
}
