import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { controlFrame, decodeFrame, recordJsonFrame, recordProtobufFrame, type StreamMessage } from '../../../agent/stream/stream-codec.js';
import { sampleAnomaly, sampleConnection, sampleFlow } from './sample-records.js';

const controls: Exclude<StreamMessage, { type: 'flow' | 'anomaly' | 'connection' }>[] = [
  { type: 'dropped', count: 1234 },
  { type: 'subscribed', kinds: ['flows', 'connections'], history: 17 },
  { type: 'error', message: 'bad --status value' },
];

describe('stream frames', () => {
  it('round-trips control messages in both formats', () => {
    for (const message of controls) {
      expect(decodeFrame(controlFrame(message, 'json') as string, false)).toEqual(message);
      const binary = controlFrame(message, 'protobuf') as Uint8Array;
      expect(typeof binary).not.toBe('string');
      expect(decodeFrame(binary, true)).toEqual(message);
    }
  });

  it('round-trips every record kind in both formats', () => {
    const records = [['flow', sampleFlow({ status: 503 })], ['anomaly', sampleAnomaly()], ['connection', sampleConnection()]] as const;
    for (const [type, record] of records) {
      expect(decodeFrame(recordJsonFrame(type, record), false)).toEqual({ type, [type]: record });
      expect(decodeFrame(recordProtobufFrame(type, record), true)).toEqual({ type, [type]: record });
    }
  });

  it('wraps the record bytes in the StreamMessage oneof field for its kind', () => {
    const frame = recordProtobufFrame('anomaly', sampleAnomaly());
    const reader = protobuf.Reader.create(frame);
    expect(reader.uint32()).toBe((2 << 3) | 2);
    expect(reader.uint32()).toBe(frame.length - reader.pos);
  });

  it('fails loudly on a frame that is not a stream message, for the client to count', () => {
    expect(() => decodeFrame('not json', false)).toThrow();
    expect(() => decodeFrame(new Uint8Array([0xff, 0xff, 0xff]), true)).toThrow();
  });
});
