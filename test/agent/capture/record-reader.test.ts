// Batches framed as native/loader.c frames them: [u32 length][record], each frame padded to 8.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as L from '../../../agent/capture/record-layout.generated.js';
import { RecordReader } from '../../../agent/capture/record-reader.js';
import type { SocketEvent } from '../../../agent/capture/socket-event.js';

function header(buf: Buffer, kind: number, over: { tgid?: number; fd?: number } = {}): void {
  buf.writeUInt8(kind, L.HEADER.kind);
  buf.writeUInt8(L.FS_RECORD_VERSION, L.HEADER.version);
  buf.writeUInt32LE(over.tgid ?? 42, L.HEADER.tgid);
  buf.writeUInt32LE(43, L.HEADER.tid);
  buf.writeUInt32LE(over.fd ?? 7, L.HEADER.fd);
  buf.writeBigUInt64LE(123_456_789_012n, L.HEADER.conn_gen);
  buf.writeBigUInt64LE(123_456_999_999n, L.HEADER.ts_ns);
}

function openRecord(): Buffer {
  const b = Buffer.alloc(L.CONN_OPEN.size);
  header(b, L.FS_REC_CONN_OPEN);
  b.writeUInt8(L.FS_ROLE_CLIENT, L.CONN_OPEN.role);
  b.writeUInt8(10, L.CONN_OPEN.family);
  b.writeUInt16LE(L.FS_CONN_F_IPV6, L.CONN_OPEN.flags);
  b.writeUInt16LE(40000, L.CONN_OPEN.local_port);
  b.writeUInt16LE(443, L.CONN_OPEN.remote_port);
  b[L.CONN_OPEN.local_addr + 15] = 1;
  b[L.CONN_OPEN.remote_addr + 15] = 1;
  b.write('curl', L.CONN_OPEN.comm, 'latin1');
  b.writeUInt32LE(1000, L.CONN_OPEN.uid);
  return b;
}

function dataRecord(payload: string, len = payload.length, pos = 0): Buffer {
  const b = Buffer.alloc(L.DATA.size + payload.length);
  header(b, L.FS_REC_DATA);
  b.writeUInt8(L.FS_DIR_INGRESS, L.DATA.direction);
  b.writeUInt8(L.FS_SRC_SSL, L.DATA.source);
  b.writeUInt8(L.FS_PROTO_HTTP1, L.DATA.protocol);
  b.writeUInt32LE(len, L.DATA.len);
  b.writeBigUInt64LE(BigInt(pos), L.DATA.pos);
  b.writeUInt32LE(payload.length, L.DATA.cap_len);
  b.write(payload, L.DATA.size, 'latin1');
  return b;
}

function frame(...records: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(r.length);
    parts.push(len, r, Buffer.alloc(((4 + r.length + 7) & ~7) - 4 - r.length));
  }
  return Buffer.concat(parts);
}

function readAll(batch: Buffer, reader = new RecordReader()): SocketEvent[] {
  const events: SocketEvent[] = [];
  reader.read(batch, batch.length, (e) => events.push(e.kind === 'data' ? { ...e, payload: Buffer.from(e.payload) } : e));
  return events;
}

describe('RecordReader', () => {
  it('reads open, data and close records with every field', () => {
    const close = Buffer.alloc(L.CONN_CLOSE.size);
    header(close, L.FS_REC_CONN_CLOSE);
    close.writeUInt8(L.FS_ROLE_CLIENT, L.CONN_CLOSE.role);
    close.writeUInt8(L.FS_PROTO_TLS, L.CONN_CLOSE.protocol);
    close.writeUInt8(1, L.CONN_CLOSE.tls);
    close.writeBigUInt64LE(300n, L.CONN_CLOSE.bytes_sent);
    close.writeBigUInt64LE(5000n, L.CONN_CLOSE.bytes_recv);
    const events = readAll(frame(openRecord(), dataRecord('HTTP/1.1 200 OK\r\n', 100, 17), close));
    expect(events).toHaveLength(3);
    expect(events[0]).toMatchObject({
      kind: 'open', tgid: 42, tid: 43, fd: 7, connGen: 123_456_789_012, role: 'client', family: 6,
      localIp: '::1', localPort: 40000, remoteIp: '::1', remotePort: 443, comm: 'curl', uid: 1000,
    });
    expect(events[1]).toMatchObject({ kind: 'data', direction: 'ingress', source: 'ssl', protocol: 'http1', pos: 17, len: 100 });
    expect(Buffer.from((events[1] as { payload: Uint8Array }).payload).toString()).toBe('HTTP/1.1 200 OK\r\n');
    expect(events[2]).toMatchObject({ kind: 'close', protocol: 'tls', tls: true, bytesSent: 300, bytesRecv: 5000 });
  });

  it('skips a record claiming more payload than it carries, and keeps the rest', () => {
    const liar = dataRecord('abc');
    liar.writeUInt32LE(5000, L.DATA.cap_len);
    liar.writeUInt32LE(5000, L.DATA.len);
    const reader = new RecordReader();
    const events = readAll(frame(liar, openRecord()), reader);
    expect(events.map((e) => e.kind)).toEqual(['open']);
    expect(reader.stats.malformed.bad_length).toBe(1);
  });

  it('counts unknown kinds, versions and enum values', () => {
    const badKind = openRecord();
    badKind.writeUInt8(99, L.HEADER.kind);
    const badVersion = openRecord();
    badVersion.writeUInt8(77, L.HEADER.version);
    const badRole = openRecord();
    badRole.writeUInt8(9, L.CONN_OPEN.role);
    const reader = new RecordReader();
    expect(readAll(frame(badKind, badVersion, badRole, openRecord()), reader)).toHaveLength(1);
    expect(reader.stats.malformed).toMatchObject({ bad_kind: 1, bad_version: 1, bad_enum: 1 });
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), fc.array(fc.nat(4096), { maxLength: 4 }), (bytes, cuts) => {
      const valid = frame(openRecord(), dataRecord('GET / HTTP/1.1\r\n'));
      const batch = Buffer.concat([valid, Buffer.from(bytes)]);
      for (const cut of cuts) batch[cut % batch.length] ^= 0xff;
      readAll(batch);
    }), { numRuns: 500 });
  });
});
