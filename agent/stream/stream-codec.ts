// Frames of the /v1/stream protocol, JSON text or protobuf StreamMessage. A
// record is encoded once per format and the frame shared by every subscriber.
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { encodeRecord, type Anomaly, type ConnectionRecord, type Flow } from '../schema/flow.js';
import { packageRoot } from '../paths.js';

export type RecordType = 'flow' | 'anomaly' | 'connection';
export type StreamKind = 'flows' | 'anomalies' | 'connections';
export type StreamFormat = 'json' | 'protobuf';
/** A frame as queued: JSON text (string, or its UTF-8 bytes) or protobuf bytes. */
export type Frame = string | Uint8Array;

export const TYPE_OF: Record<StreamKind, RecordType> = { flows: 'flow', anomalies: 'anomaly', connections: 'connection' };

/** A message as a client sees it after decoding either format. */
export type StreamMessage =
  | { type: 'flow'; flow: Flow }
  | { type: 'anomaly'; anomaly: Anomaly }
  | { type: 'connection'; connection: ConnectionRecord }
  | { type: 'dropped'; count: number }
  | { type: 'subscribed'; kinds: StreamKind[]; history: number }
  | { type: 'error'; message: string };

const FIELD: Record<RecordType, number> = { flow: 1, anomaly: 2, connection: 3 };
const SCHEMA_NAME = { flow: 'Flow', anomaly: 'Anomaly', connection: 'Connection' } as const;

let streamType: protobuf.Type | undefined;

function schema(): protobuf.Type {
  streamType ??= protobuf.loadSync(join(packageRoot, 'agent', 'stream', 'stream.proto')).lookupType('flowscope.stream.v1.StreamMessage');
  return streamType;
}

/** `{"type":"flow","flow":{…}}`: the record's JSON is its proto3 JSON shape already. */
export function recordJsonFrame(type: RecordType, record: object): string {
  return `{"type":"${type}","${type}":${JSON.stringify(record)}}`;
}

const JSON_FRAME_HEADS: Record<RecordType, Buffer> = {
  flow: Buffer.from('{"type":"flow","flow":'),
  anomaly: Buffer.from('{"type":"anomaly","anomaly":'),
  connection: Buffer.from('{"type":"connection","connection":'),
};
const JSON_FRAME_TAIL = Buffer.from('}');

/** recordJsonFrame as UTF-8 bytes, around a record already encoded as JSON. */
export function recordJsonFrameOf(type: RecordType, json: Uint8Array): Buffer {
  return Buffer.concat([JSON_FRAME_HEADS[type], json, JSON_FRAME_TAIL]);
}

/** StreamMessage with the record in its oneof field: the record's bytes behind one tag and length. */
export function recordProtobufFrame(type: RecordType, record: object): Uint8Array {
  const body = encodeRecord(SCHEMA_NAME[type], record);
  return protobuf.Writer.create().uint32((FIELD[type] << 3) | 2).bytes(body).finish();
}

export function controlFrame(message: Exclude<StreamMessage, { type: RecordType }>, format: StreamFormat): Frame {
  if (format === 'json') return JSON.stringify(message);
  const type = schema();
  const { type: name, ...fields } = message;
  return type.encode(type.fromObject({ [name]: fields })).finish();
}

const jsonOptions: protobuf.IConversionOptions = { longs: String, enums: String, defaults: false, arrays: false, oneofs: false };

/** Decodes a frame of either format (clients, tests). */
export function decodeFrame(data: Frame | Buffer | ArrayBuffer | Buffer[], binary: boolean): StreamMessage {
  if (!binary) {
    const text = typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data as ArrayBuffer)]).toString('utf8');
    return JSON.parse(text) as StreamMessage;
  }
  const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array);
  const type = schema();
  const object = type.toObject(type.decode(bytes), jsonOptions) as Record<string, unknown>;
  const [name, value] = Object.entries(object)[0] ?? ['error', { message: 'empty frame' }];
  if (name === 'dropped') return { type: 'dropped', count: Number((value as { count?: string }).count ?? 0) };
  if (name === 'subscribed') {
    const v = value as { kinds?: StreamKind[]; history?: number };
    return { type: 'subscribed', kinds: v.kinds ?? [], history: v.history ?? 0 };
  }
  if (name === 'error') return { type: 'error', message: (value as { message?: string }).message ?? '' };
  return { type: name, [name]: value } as StreamMessage;
}
