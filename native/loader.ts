// Binding to native/build/libflowscope.so (native/loader.c) through koffi.
//
// BpfLoader owns one loaded flowscope.bpf.o: open -> attachSyscalls / attachSsl ->
// drain in a loop -> close. drain() runs the ring-buffer poll on a koffi worker
// thread so the event loop never blocks. Every native failure becomes a
// FlowscopeError that names the step and the fix.

import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import koffi from 'koffi';
import { ErrorCodes, FlowscopeError, type ErrorCode } from '../agent/errors.js';
import { LOSS_COUNT } from '../agent/capture/record-layout.generated.js';
import { paths } from '../agent/paths.js';

/** Each drained record is framed as [u32 length, little-endian][record][zero pad to 8]. */
export const DRAIN_FRAME_HEADER = 4;
export const DRAIN_FRAME_ALIGN = 8;
/** Largest record the kernel emits (DATA header + one full chunk); a drain buffer must hold one frame of it. */
export const DRAIN_MIN_BUFFER = 56 + 16384 + DRAIN_FRAME_HEADER + DRAIN_FRAME_ALIGN;

export const DEFAULT_MAX_CAPTURE_BYTES = 16384;
export const MAX_CAPTURE_BYTES_LIMIT = 65536;
/** Kernel ring buffer between the probes and the drain (bpf/flowscope.bpf.c FS_EVENTS_BYTES). */
export const DEFAULT_RING_BUFFER_BYTES = 4 << 20;
export const RING_BUFFER_BYTES_MIN = 1 << 20;
export const RING_BUFFER_BYTES_MAX = 1 << 30;

/** File offsets of the functions OpenSSL's SSL_read/SSL_read_ex and SSL_write/SSL_write_ex both call. */
export interface OpensslCore {
  readOffset: number;
  writeOffset: number;
}

export interface BpfLoaderOptions {
  /** Process never traced, at every hook. Default: this process. */
  agentTgid?: number;
  /** Payload bytes captured per syscall or TLS call (rounded up to 16 KiB chunks). Default 16384, at most 65536. */
  maxCaptureBytes?: number;
  /**
   * Ring buffer size, rounded up to a power of two; default 4 MiB. With the
   * drain buffer it holds what arrives while user space is busy (about 0.3 s of
   * a saturated nginx here, with no loss); it is resident twice over (the
   * kernel maps its pages twice for wrap-around), so 8 MiB would cost 8 MB more.
   */
  ringBufferBytes?: number;
  /** Default: <package root>/bpf/build/flowscope.bpf.o */
  objectPath?: string;
  /** Default: <package root>/native/build/libflowscope.so */
  libraryPath?: string;
}

/** Where to probe one Go binary's crypto/tls (file offsets) and how to find a connection's fd (bpf/flowscope.h fs_go_tls_conf). */
export interface GoTlsProbeConfig {
  writeOffset: number;
  readOffset: number;
  readRetOffsets: number[];
  conf: {
    /** Link-time address of the *net.TCPConn itab for net.Conn; 0 skips the check. */
    tcpconn_itab: number;
    write_entry: number;
    read_entry: number;
    conn_offset: number;
    netfd_offset: number;
    sysfd_offset: number;
    /** FS_GO_WRITE_AT_JBE (1) / FS_GO_READ_AT_JBE (2): that entry probe sits on the prologue's stack-check JBE. */
    flags: number;
  };
}

/** A key of the kernel connection table. */
export type ConnKey = [tgid: number, fd: number];

const BUILD_FIX = 'run `npm run build:native` (make -C native)';
const PRIVILEGE_FIX = 'run as root, or grant CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN on kernels before 5.8)';

function errnoName(ret: number): string {
  const code = -ret;
  for (const [name, value] of Object.entries(osConstants.errno)) if (value === code) return name;
  return `errno ${code}`;
}

function isPrivilegeError(ret: number): boolean {
  return ret === -osConstants.errno.EPERM || ret === -osConstants.errno.EACCES;
}

// The native functions, bound once per library path.
interface NativeApi {
  open: (path: string, agentTgid: number, maxCapture: number, ringBufferBytes: number, out: unknown[]) => number;
  attachSyscalls: (l: unknown) => number;
  attachSsl: (l: unknown, path: string) => number;
  attachSslCore: (l: unknown, path: string, readOffset: number, writeOffset: number) => number;
  detachSsl: (l: unknown, path: string) => number;
  attachGoTls: (
    l: unknown,
    path: string,
    conf: GoTlsProbeConfig['conf'],
    writeOffset: number,
    readOffset: number,
    readRetOffsets: BigUint64Array,
    readRetCount: number,
  ) => number;
  drain: koffi.KoffiFunction;
  readLosses: (l: unknown, out: BigUint64Array, n: number) => number;
  connList: (l: unknown, out: Uint32Array, max: number) => number;
  connForget: (l: unknown, tgid: number, fd: number) => number;
  execPids: (l: unknown, out: Uint32Array, max: number) => number;
  holdScratch: (l: unknown, hold: number) => number;
  detachesPending: (l: unknown) => number;
  lastError: (l: unknown) => string;
  close: koffi.KoffiFunction;
}

const bound = new Map<string, NativeApi>();
// koffi's type names are process-wide: declare the opaque handle type once,
// however many library paths get bound.
let loaderTypeDeclared = false;

function bind(libraryPath: string): NativeApi {
  const cached = bound.get(libraryPath);
  if (cached) return cached;
  if (!existsSync(libraryPath)) {
    throw new FlowscopeError(ErrorCodes.NATIVE_MISSING, `native loader not built: ${libraryPath} is missing`, BUILD_FIX);
  }
  let lib: koffi.IKoffiLib;
  try {
    lib = koffi.load(libraryPath);
  } catch (cause) {
    throw new FlowscopeError(
      ErrorCodes.NATIVE_MISSING,
      `cannot load ${libraryPath}: ${(cause as Error).message}`,
      `${BUILD_FIX}; it needs libbpf1, libelf1 and zlib installed`,
      { cause },
    );
  }
  if (!loaderTypeDeclared) {
    koffi.opaque('fs_loader');
    koffi.struct('fs_go_tls_conf', {
      tcpconn_itab: 'uint64_t',
      write_entry: 'uint64_t',
      read_entry: 'uint64_t',
      conn_offset: 'uint32_t',
      netfd_offset: 'uint32_t',
      sysfd_offset: 'uint32_t',
      flags: 'uint32_t',
    });
    loaderTypeDeclared = true;
  }
  const api: NativeApi = {
    open: lib.func('int fs_open(const char *path, uint32_t agent_tgid, uint32_t max_capture_bytes, uint32_t ring_buffer_bytes, _Out_ fs_loader **out)'),
    attachSyscalls: lib.func('int fs_attach_syscalls(fs_loader *l)'),
    attachSsl: lib.func('int fs_attach_ssl(fs_loader *l, const char *binary_path)'),
    attachSslCore: lib.func('int fs_attach_ssl_core(fs_loader *l, const char *binary_path, uint64_t read_offset, uint64_t write_offset)'),
    detachSsl: lib.func('int fs_detach_ssl(fs_loader *l, const char *binary_path)'),
    attachGoTls: lib.func(
      'int fs_attach_go_tls(fs_loader *l, const char *binary_path, const fs_go_tls_conf *conf, uint64_t write_offset, uint64_t read_offset, const uint64_t *read_ret_offsets, uint32_t read_ret_count)',
    ),
    drain: lib.func('int fs_drain(fs_loader *l, void *buf, uint32_t cap, int timeout_ms)'),
    readLosses: lib.func('int fs_read_losses(fs_loader *l, void *out, uint32_t n)'),
    connList: lib.func('int fs_conn_list(fs_loader *l, void *out_pairs, uint32_t max_pairs)'),
    connForget: lib.func('int fs_conn_forget(fs_loader *l, uint32_t tgid, uint32_t fd)'),
    execPids: lib.func('int fs_exec_pids(fs_loader *l, void *out, uint32_t max)'),
    holdScratch: lib.func('int fs_hold_scratch(fs_loader *l, int hold)'),
    detachesPending: lib.func('int fs_detaches_pending(fs_loader *l)'),
    lastError: lib.func('const char *fs_last_error(fs_loader *l)'),
    close: lib.func('void fs_close(fs_loader *l)'),
  };
  bound.set(libraryPath, api);
  return api;
}

/**
 * Calls fn(offset, length) for each record framed in buf[0, used) by drain().
 * offset is where the record starts in buf. Stops at a malformed frame.
 */
export function forEachRecord(buf: Buffer, used: number, fn: (offset: number, length: number) => void): void {
  let at = 0;
  const end = Math.min(used, buf.length);
  while (at + DRAIN_FRAME_HEADER <= end) {
    const length = buf.readUInt32LE(at);
    const start = at + DRAIN_FRAME_HEADER;
    if (length === 0 || start + length > end) return;
    fn(start, length);
    at = (start + length + DRAIN_FRAME_ALIGN - 1) & ~(DRAIN_FRAME_ALIGN - 1);
  }
}

export class BpfLoader {
  readonly #api: NativeApi;
  #handle: unknown;
  #draining: Promise<number> | undefined;
  #closed: Promise<void> | undefined;

  private constructor(api: NativeApi, handle: unknown) {
    this.#api = api;
    this.#handle = handle;
  }

  /** Opens, configures and loads the BPF object (nothing is attached yet). */
  static open(opts: BpfLoaderOptions = {}): BpfLoader {
    const objectPath = opts.objectPath ?? paths.bpfObject;
    const libraryPath = opts.libraryPath ?? paths.nativeLibrary;
    const agentTgid = opts.agentTgid ?? process.pid;
    const maxCapture = opts.maxCaptureBytes ?? DEFAULT_MAX_CAPTURE_BYTES;
    const ringBytes = opts.ringBufferBytes ?? DEFAULT_RING_BUFFER_BYTES;

    if (!Number.isInteger(maxCapture) || maxCapture < 1 || maxCapture > MAX_CAPTURE_BYTES_LIMIT) {
      throw new FlowscopeError(
        ErrorCodes.BAD_FLAG,
        `max capture bytes must be an integer from 1 to ${MAX_CAPTURE_BYTES_LIMIT}, got ${maxCapture}`,
        `pick a value up to ${MAX_CAPTURE_BYTES_LIMIT}`,
      );
    }
    if (!Number.isInteger(ringBytes) || ringBytes < RING_BUFFER_BYTES_MIN || ringBytes > RING_BUFFER_BYTES_MAX) {
      throw new FlowscopeError(
        ErrorCodes.BAD_FLAG,
        `ring buffer bytes must be an integer from ${RING_BUFFER_BYTES_MIN} to ${RING_BUFFER_BYTES_MAX}, got ${ringBytes}`,
        'pick a size from 1MiB to 1GiB',
      );
    }
    const api = bind(libraryPath);
    if (!existsSync(objectPath)) {
      throw new FlowscopeError(ErrorCodes.NATIVE_MISSING, `BPF object not built: ${objectPath} is missing`, BUILD_FIX);
    }
    if (!existsSync('/sys/kernel/btf/vmlinux')) {
      throw new FlowscopeError(
        ErrorCodes.BPF_LOAD,
        'loading the BPF object: the kernel has no BTF (/sys/kernel/btf/vmlinux is missing)',
        'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (5.17 or newer)',
      );
    }
    const out: unknown[] = [null];
    const ret = api.open(objectPath, agentTgid, maxCapture, ringBytes, out);
    if (ret < 0) {
      const detail = lastLine(api.lastError(null));
      const privileged = isPrivilegeError(ret);
      throw new FlowscopeError(
        privileged ? ErrorCodes.NOT_ROOT : ErrorCodes.BPF_LOAD,
        `loading the BPF object ${objectPath} failed: ${errnoName(ret)}${detail ? `: ${detail}` : ''}`,
        privileged ? PRIVILEGE_FIX : `check that the kernel is 5.17 or newer with BTF, then ${BUILD_FIX}`,
      );
    }
    return new BpfLoader(api, out[0]);
  }

  /**
   * Attaches the syscall side: one program on the raw sys_enter tracepoint and
   * one on sys_exit. Raw tracepoints are attached through bpf(2), so tracefs
   * need not be mounted.
   */
  attachSyscalls(): void {
    const ret = this.#api.attachSyscalls(this.#live());
    if (ret >= 0) return;
    this.#fail(
      isPrivilegeError(ret) ? ErrorCodes.NOT_ROOT : ErrorCodes.BPF_ATTACH,
      'attaching the raw sys_enter/sys_exit tracepoints',
      ret,
      isPrivilegeError(ret)
        ? PRIVILEGE_FIX
        : ret === -osConstants.errno.ENOENT
          ? BUILD_FIX
          : 'check that the kernel has syscall tracepoints (CONFIG_HAVE_SYSCALL_TRACEPOINTS) and BTF (CONFIG_DEBUG_INFO_BTF)',
    );
  }

  /**
   * Attaches TLS uprobes to SSL_read/SSL_write(_ex) in the ELF at path (all
   * processes), or, given `core`, to the two internal functions those four
   * share (file offsets from agent/capture/tls-openssl.ts). Returns the probe
   * count; idempotent per path.
   */
  attachSsl(path: string, core?: OpensslCore): number {
    const ret = core
      ? this.#api.attachSslCore(this.#live(), path, core.readOffset, core.writeOffset)
      : this.#api.attachSsl(this.#live(), path);
    if (ret > 0) return ret;
    const missing = ret === -osConstants.errno.ENOENT;
    this.#fail(
      isPrivilegeError(ret) ? ErrorCodes.NOT_ROOT : ErrorCodes.BPF_ATTACH,
      `attaching TLS probes to ${path}`,
      ret === 0 ? -osConstants.errno.ENOENT : ret,
      isPrivilegeError(ret)
        ? PRIVILEGE_FIX
        : missing
          ? 'point at an existing library or binary that exports SSL_read and SSL_write (e.g. /usr/lib/x86_64-linux-gnu/libssl.so.3)'
          : 'check that the kernel supports uprobes (CONFIG_UPROBE_EVENTS)',
    );
  }

  /**
   * Attaches Go crypto/tls probes to the executable at path: (*Conn).Write and
   * (*Conn).Read entries and each RET of Read. Returns the probe count; idempotent per path.
   */
  attachGoTls(path: string, probe: GoTlsProbeConfig): number {
    const rets = BigUint64Array.from(probe.readRetOffsets, (o) => BigInt(o));
    const ret = this.#api.attachGoTls(
      this.#live(),
      path,
      probe.conf,
      probe.writeOffset,
      probe.readOffset,
      rets,
      rets.length,
    );
    if (ret > 0) return ret;
    this.#fail(
      isPrivilegeError(ret) ? ErrorCodes.NOT_ROOT : ErrorCodes.BPF_ATTACH,
      `attaching Go crypto/tls probes to ${path}`,
      ret === 0 ? -osConstants.errno.ENOENT : ret,
      isPrivilegeError(ret) ? PRIVILEGE_FIX : 'check that the kernel supports uprobes with BPF cookies (5.15 or newer)',
    );
  }

  /**
   * Removes the TLS probes (OpenSSL or Go) attached to path. Returns at once:
   * the kernel takes ~0.1 s per probe to let go of them, which a thread of the
   * loader waits out (detachesPending); they may still fire until then.
   */
  detachSsl(path: string): void {
    const ret = this.#api.detachSsl(this.#live(), path);
    if (ret < 0) this.#fail(ErrorCodes.BPF_ATTACH, `detaching TLS probes from ${path}`, ret, 'detach only paths that were attached');
  }

  /** detachSsl calls whose probes the kernel has not let go of yet. */
  detachesPending(): number {
    return this.#api.detachesPending(this.#live());
  }

  /**
   * Waits up to timeoutMs for records (kernel wake-ups are batched, so with few
   * records this usually waits the whole timeout) and copies them into buf as
   * frames (see forEachRecord). Returns once a batch is ready (256 KiB or half the
   * buffer) or at the timeout. Resolves to the bytes used; 0 on timeout.
   * One drain at a time; the poll runs on a worker thread.
   */
  drain(buf: Buffer, timeoutMs: number): Promise<number> {
    const handle = this.#live();
    if (this.#draining) {
      return Promise.reject(
        new FlowscopeError(ErrorCodes.BPF_DRAIN, 'drain() called while another drain is in flight', 'await each drain() before the next'),
      );
    }
    if (buf.length < DRAIN_MIN_BUFFER) {
      return Promise.reject(
        new FlowscopeError(
          ErrorCodes.BPF_DRAIN,
          `drain buffer of ${buf.length} bytes is smaller than one record frame (${DRAIN_MIN_BUFFER})`,
          `use a buffer of at least ${DRAIN_MIN_BUFFER} bytes`,
        ),
      );
    }
    const timeout = Math.max(0, Math.min(Math.trunc(timeoutMs), 0x7fffffff));
    const pending = new Promise<number>((resolve, reject) => {
      this.#api.drain.async(handle, buf, Math.min(buf.length, 0xffffffff), timeout, (err: unknown, ret: number) => {
        if (err) {
          reject(new FlowscopeError(ErrorCodes.BPF_DRAIN, `draining the ring buffer: ${String(err)}`, undefined, { cause: err }));
        } else if (ret < 0) {
          reject(this.#error(ErrorCodes.BPF_DRAIN, 'draining the ring buffer', ret, 'restart the agent; if it repeats, report it'));
        } else {
          resolve(ret);
        }
      });
    });
    this.#draining = pending;
    const clear = (): void => {
      this.#draining = undefined;
    };
    pending.then(clear, clear);
    return pending;
  }

  /** Loss counters summed over CPUs, indexed by LOSS_CAUSE (LOSS_COUNT entries, names in LOSS_CAUSES). */
  readLosses(): number[] {
    const out = new BigUint64Array(LOSS_COUNT);
    const ret = this.#api.readLosses(this.#live(), out, LOSS_COUNT);
    if (ret < 0) this.#fail(ErrorCodes.BPF_DRAIN, 'reading loss counters', ret, 'restart the agent; if it repeats, report it');
    return Array.from(out, (v) => Number(v));
  }

  /** Keys of the kernel connection table, for garbage-collecting entries of dead processes. */
  connList(max = 65536): ConnKey[] {
    const out = new Uint32Array(max * 2);
    const n = this.#api.connList(this.#live(), out, max);
    if (n < 0) this.#fail(ErrorCodes.BPF_DRAIN, 'listing kernel connections', n, 'restart the agent; if it repeats, report it');
    const keys: ConnKey[] = [];
    for (let i = 0; i < n; i++) keys.push([out[2 * i]!, out[2 * i + 1]!]);
    return keys;
  }

  /** Pids of processes that exec'd since the last call (at most max; the rest stay queued). */
  execPids(max = 256): number[] {
    const out = new Uint32Array(max);
    const n = this.#api.execPids(this.#live(), out, max);
    if (n < 0) this.#fail(ErrorCodes.BPF_DRAIN, 'reading exec events', n, 'restart the agent; if it repeats, report it');
    return Array.from(out.subarray(0, n));
  }

  /** Drops one kernel connection entry; false if it was not there. */
  connForget(tgid: number, fd: number): boolean {
    const ret = this.#api.connForget(this.#live(), tgid, fd);
    if (ret === -osConstants.errno.ENOENT) return false;
    if (ret < 0) this.#fail(ErrorCodes.BPF_DRAIN, `forgetting connection ${tgid}/${fd}`, ret, 'restart the agent; if it repeats, report it');
    return true;
  }

  /**
   * For tests: takes every emit scratch slot, as programs preempted mid-call
   * would (calls are then described without their bytes and counted as
   * scratch_busy), or gives them back. Garbles a record being gathered.
   */
  holdScratch(hold: boolean): void {
    const ret = this.#api.holdScratch(this.#live(), hold ? 1 : 0);
    if (ret < 0) this.#fail(ErrorCodes.BPF_DRAIN, `${hold ? 'taking' : 'giving back'} the scratch slots`, ret, 'restart the test');
  }

  /**
   * Detaches everything and frees the BPF object, after any drain in flight
   * has finished, on a worker thread: the kernel takes ~0.1 s per TLS probe.
   */
  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    const inFlight = this.#draining ?? Promise.resolve(0);
    this.#closed = inFlight
      .catch(() => 0)
      .then(
        () =>
          new Promise<void>((resolve) => {
            const handle = this.#handle;
            this.#handle = null;
            this.#api.close.async(handle, () => resolve());
          }),
      );
    return this.#closed;
  }

  #live(): unknown {
    if (this.#closed || this.#handle === null) {
      throw new FlowscopeError(ErrorCodes.BPF_DRAIN, 'the BPF loader is closed', 'open a new BpfLoader');
    }
    return this.#handle;
  }

  #error(code: ErrorCode, step: string, ret: number, fix: string): FlowscopeError {
    const detail = this.#handle === null ? '' : lastLine(this.#api.lastError(this.#handle));
    return new FlowscopeError(code, `${step} failed: ${errnoName(ret)}${detail ? `: ${detail}` : ''}`, fix);
  }

  #fail(code: ErrorCode, step: string, ret: number, fix: string): never {
    throw this.#error(code, step, ret, fix);
  }
}

/** The last few non-empty lines of a libbpf/loader message (verifier logs end with the reason). */
function lastLine(text: string | null): string {
  if (!text) return '';
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('-- END PROG LOAD LOG'));
  return lines.slice(-4).join(' | ');
}
