// Bearer tokens for the agent's HTTP port. The token lives in a file so it can
// be rotated without a restart: the file is re-read when it changes (checked
// every second against the stat taken when it was read) and on reloadToken()
// (SIGHUP). A failed re-read keeps the previous token.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { ErrorCodes, FlowscopeError } from '../errors.js';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** What identifies one version of the file: inode (replaced by rename), size, mtime. */
function fileVersion(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

export class BearerAuth {
  #digest: Buffer;
  #version: string;
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly tokenFile: string,
    readonly onReloadFailed: (err: Error) => void,
    checkIntervalMs = 1000,
  ) {
    this.#version = fileVersion(tokenFile);
    this.#digest = digest(BearerAuth.#read(tokenFile));
    this.#timer = setInterval(() => {
      if (fileVersion(this.tokenFile) !== this.#version) this.reload();
    }, checkIntervalMs);
    this.#timer.unref();
  }

  static #read(file: string): string {
    let token: string;
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new FlowscopeError(ErrorCodes.BAD_FLAG, `cannot read --token-file ${file}: ${(err as Error).message}`, 'point --token-file at a readable file holding the token');
    }
    if (token.length < 16) {
      throw new FlowscopeError(ErrorCodes.BAD_FLAG, `--token-file ${file} holds ${token.length === 0 ? 'no token' : 'a token shorter than 16 characters'}`, 'write a long random token, e.g. openssl rand -hex 32 > FILE');
    }
    return token;
  }

  /** Re-reads the token file; keeps the old token if the file is unreadable or empty. */
  reload(): boolean {
    // Taken before reading, so a write during the read is seen at the next check.
    this.#version = fileVersion(this.tokenFile);
    try {
      this.#digest = digest(BearerAuth.#read(this.tokenFile));
      return true;
    } catch (err) {
      this.onReloadFailed(err as Error);
      return false;
    }
  }

  /** Checks an Authorization header value in constant time. */
  allows(header: string | undefined): boolean {
    const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return false;
    return timingSafeEqual(digest(m[1]!), this.#digest);
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
