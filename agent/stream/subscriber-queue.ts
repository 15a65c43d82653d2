// One WebSocket subscriber's outgoing frames. The agent never waits for a
// reader: frames queue here up to a count and byte cap, past which the OLDEST
// are dropped and the subscriber is told how many with a `dropped` record sent
// where the gap is. Frames go to the socket only while ws's own buffer is
// below a high-water mark, so a stalled reader holds at most the cap plus the
// mark in memory.
import type WebSocket from 'ws';
import { controlFrame, type Frame, type StreamFormat } from './stream-codec.js';

export interface QueueLimits {
  maxRecords: number;
  maxBytes: number;
  /** ws bufferedAmount above which nothing more is handed to the socket. */
  socketHighWater: number;
}

function frameBytes(frame: Frame): number {
  return typeof frame === 'string' ? frame.length : frame.byteLength;
}

export class SubscriberQueue {
  /** Records dropped for this subscriber since it connected. */
  droppedTotal = 0;
  sent = 0;
  #frames: Frame[] = [];
  #head = 0;
  #bytes = 0;
  /** Dropped and not yet reported to the subscriber. */
  #droppedUnreported = 0;
  #waitingForSocket = false;

  constructor(
    readonly ws: WebSocket,
    readonly format: StreamFormat,
    readonly limits: QueueLimits,
  ) {}

  get length(): number {
    return this.#frames.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  push(frame: Frame): void {
    const size = frameBytes(frame);
    while (this.length > 0 && (this.length >= this.limits.maxRecords || this.#bytes + size > this.limits.maxBytes)) {
      this.#dropOldest();
    }
    // Sent and dropped frames leave holes at the front; reclaim them now and then.
    if (this.#head > 1024 && this.#head * 2 > this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head);
      this.#head = 0;
    }
    this.#frames.push(frame);
    this.#bytes += size;
  }

  /** Forgets queued frames (a new subscription replaces the old one). */
  clear(): void {
    this.#frames = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#droppedUnreported = 0;
  }

  #dropOldest(): void {
    const frame = this.#frames[this.#head]!;
    this.#frames[this.#head++] = '';
    this.#bytes -= frameBytes(frame);
    this.#droppedUnreported++;
    this.droppedTotal++;
  }

  /** Hands frames to the socket until it is empty or the socket is backed up. */
  flush(): void {
    if (this.#waitingForSocket || this.ws.readyState !== this.ws.OPEN) return;
    while (this.length > 0 || this.#droppedUnreported > 0) {
      let frame: Frame;
      if (this.#droppedUnreported > 0) {
        frame = controlFrame({ type: 'dropped', count: this.#droppedUnreported }, this.format);
        this.#droppedUnreported = 0;
      } else {
        frame = this.#frames[this.#head]!;
        this.#frames[this.#head++] = '';
        this.#bytes -= frameBytes(frame);
        this.sent++;
      }
      if (!this.#send(frame)) return;
    }
    this.#frames = [];
    this.#head = 0;
  }

  /** Sends one frame; false when the socket is backed up and flushing resumes once it has written this one. */
  #send(frame: Frame): boolean {
    // JSON frames are UTF-8 bytes already: sent as text without re-encoding per subscriber.
    const options = { binary: this.format === 'protobuf' };
    if (this.ws.bufferedAmount + frameBytes(frame) < this.limits.socketHighWater) {
      this.ws.send(frame, options);
      return true;
    }
    this.#waitingForSocket = true;
    this.ws.send(frame, options, () => {
      this.#waitingForSocket = false;
      this.flush();
    });
    return false;
  }
}
