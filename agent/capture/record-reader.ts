// Turns a batch drained from the kernel ring buffer into SocketEvents.
//
// Batch framing (written by native/loader.c): repeated [u32 length][record],
// each frame padded so the next starts on an 8-byte boundary.
// Every length comes from the kernel or the loader and is clamped before use;
// a malformed record is counted and skipped, the rest of the batch is kept.
import { formatIp } from './ip-format.js';
import * as L from './record-layout.generated.js';
import type { DataEvent, DataSource, Direction, KernelProtocol, Role, SocketEvent } from './socket-event.js';

const ROLES: Role[] = ['unknown', 'client', 'server'];
const DIRECTIONS: Direction[] = ['egress', 'ingress'];
const PROTOCOLS: KernelProtocol[] = ['unknown', 'other', 'http1', 'http2', 'tls'];
const SOURCES: DataSource[] = ['syscall', 'ssl', 'sendfile'];

export type MalformedReason = 'short_record' | 'bad_version' | 'bad_kind' | 'bad_length' | 'bad_enum';

export interface RecordReaderStats {
  records: number;
  malformed: Record<MalformedReason, number>;
}

export class RecordReader {
  readonly stats: RecordReaderStats = {
    records: 0,
    malformed: { short_record: 0, bad_version: 0, bad_kind: 0, bad_length: 0, bad_enum: 0 },
  };
  readonly #decoder = new TextDecoder('latin1');
  /**
   * Every data record fills this one object: a few fields per record instead of
   * a new event (and boxed numbers) each time, which was an eighth of the agent's
   * allocation at 10,000 req/s. Open and close events are made fresh: listeners keep them.
   */
  readonly #data: DataEvent = {
    kind: 'data', tgid: 0, tid: 0, fd: 0, connGen: 0, tsNs: 0, direction: 'egress', source: 'syscall', protocol: 'unknown',
    len: 0, pos: 0, payload: new Uint8Array(0),
  };

  /**
   * Parses `length` bytes of `batch`, calling `onEvent` for each well-formed record.
   * A data event is valid only until `onEvent` returns: the next data record reuses
   * the object, and its payload views `batch`. Copy what must outlive the call.
   */
  read(batch: Uint8Array, length: number, onEvent: (event: SocketEvent) => void): void {
    const view = new DataView(batch.buffer, batch.byteOffset, Math.min(length, batch.byteLength));
    const end = view.byteLength;
    let at = 0;
    while (at + 4 <= end) {
      const recordLength = view.getUint32(at, true);
      const start = at + 4;
      const available = end - start;
      if (recordLength > available || recordLength < L.HEADER.size) {
        // The framing itself is broken: nothing after this point can be trusted.
        this.stats.malformed.bad_length++;
        return;
      }
      at = (start + recordLength + 7) & ~7;
      const event = this.#parse(batch, view, start, recordLength);
      if (event) {
        this.stats.records++;
        onEvent(event);
      }
    }
  }

  #parse(batch: Uint8Array, view: DataView, at: number, length: number): SocketEvent | undefined {
    const kind = view.getUint8(at + L.HEADER.kind);
    if (view.getUint8(at + L.HEADER.version) !== L.FS_RECORD_VERSION) {
      this.stats.malformed.bad_version++;
      return undefined;
    }
    const tgid = view.getUint32(at + L.HEADER.tgid, true);
    const tid = view.getUint32(at + L.HEADER.tid, true);
    const fd = view.getUint32(at + L.HEADER.fd, true);
    const connGen = readU64(view, at + L.HEADER.conn_gen);
    const tsNs = readU64(view, at + L.HEADER.ts_ns);

    switch (kind) {
      case L.FS_REC_CONN_OPEN: {
        if (length < L.CONN_OPEN.size) return this.#short();
        const role = ROLES[view.getUint8(at + L.CONN_OPEN.role)];
        const familyRaw = view.getUint8(at + L.CONN_OPEN.family);
        if (role === undefined || (familyRaw !== 2 && familyRaw !== 10)) return this.#badEnum();
        const family = familyRaw === 2 ? 4 : 6;
        const flags = view.getUint16(at + L.CONN_OPEN.flags, true);
        const commStart = at + L.CONN_OPEN.comm;
        let commEnd = commStart;
        while (commEnd < commStart + L.FS_COMM_LEN && batch[commEnd] !== 0) commEnd++;
        return {
          kind: 'open', tgid, tid, fd, connGen, tsNs, role, family,
          preexisting: (flags & L.FS_CONN_F_PREEXISTING) !== 0,
          localIp: formatIp(batch, at + L.CONN_OPEN.local_addr, family),
          localPort: view.getUint16(at + L.CONN_OPEN.local_port, true),
          remoteIp: formatIp(batch, at + L.CONN_OPEN.remote_addr, family),
          remotePort: view.getUint16(at + L.CONN_OPEN.remote_port, true),
          comm: this.#decoder.decode(batch.subarray(commStart, commEnd)),
          uid: view.getUint32(at + L.CONN_OPEN.uid, true),
          cgroupId: readU64(view, at + L.CONN_OPEN.cgroup_id),
        };
      }
      case L.FS_REC_DATA: {
        if (length < L.DATA.size) return this.#short();
        const direction = DIRECTIONS[view.getUint8(at + L.DATA.direction)];
        const source = SOURCES[view.getUint8(at + L.DATA.source)];
        const protocol = PROTOCOLS[view.getUint8(at + L.DATA.protocol)];
        if (direction === undefined || source === undefined || protocol === undefined) return this.#badEnum();
        const len = view.getUint32(at + L.DATA.len, true);
        const capLen = view.getUint32(at + L.DATA.cap_len, true);
        if (capLen > len || capLen > length - L.DATA.size || capLen > L.FS_MAX_CHUNK) {
          this.stats.malformed.bad_length++;
          return undefined;
        }
        const event = this.#data;
        event.tgid = tgid;
        event.tid = tid;
        event.fd = fd;
        event.connGen = connGen;
        event.tsNs = tsNs;
        event.direction = direction;
        event.source = source;
        event.protocol = protocol;
        event.len = len;
        event.pos = readU64(view, at + L.DATA.pos);
        // A plain view: a third of the cost of Buffer#subarray, which builds a Buffer.
        event.payload = new Uint8Array(batch.buffer, batch.byteOffset + at + L.DATA.size, capLen);
        return event;
      }
      case L.FS_REC_CONN_CLOSE: {
        if (length < L.CONN_CLOSE.size) return this.#short();
        const role = ROLES[view.getUint8(at + L.CONN_CLOSE.role)];
        const protocol = PROTOCOLS[view.getUint8(at + L.CONN_CLOSE.protocol)];
        if (role === undefined || protocol === undefined) return this.#badEnum();
        return {
          kind: 'close', tgid, tid, fd, connGen, tsNs, role, protocol,
          tls: view.getUint8(at + L.CONN_CLOSE.tls) !== 0,
          bytesSent: readU64(view, at + L.CONN_CLOSE.bytes_sent),
          bytesRecv: readU64(view, at + L.CONN_CLOSE.bytes_recv),
          startNs: readU64(view, at + L.CONN_CLOSE.start_ns),
        };
      }
      default:
        this.stats.malformed.bad_kind++;
        return undefined;
    }
  }

  #short(): undefined {
    this.stats.malformed.short_record++;
    return undefined;
  }

  #badEnum(): undefined {
    this.stats.malformed.bad_enum++;
    return undefined;
  }
}

/** u64 as a number without allocating a BigInt (exact below 2^53: 104 days of uptime in ns). */
function readU64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 0x1_0000_0000;
}
