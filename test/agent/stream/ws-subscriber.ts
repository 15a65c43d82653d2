// A real WebSocket client of /v1/stream that keeps every message it receives.
import WebSocket, { type ClientOptions } from 'ws';
import { decodeFrame, type StreamMessage } from '../../../agent/stream/stream-codec.js';
import { waitFor } from '../../helpers/wait.mjs';

export class WsSubscriber {
  readonly messages: StreamMessage[] = [];
  closeCode: number | undefined;
  readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => this.messages.push(decodeFrame(data as Buffer, isBinary)));
    ws.on('close', (code) => (this.closeCode = code));
    ws.on('error', () => {});
  }

  static async open(url: string, options: ClientOptions = {}): Promise<WsSubscriber> {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
    const sub = new WsSubscriber(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
    return sub;
  }

  of<T extends StreamMessage['type']>(type: T): Extract<StreamMessage, { type: T }>[] {
    return this.messages.filter((m) => m.type === type) as Extract<StreamMessage, { type: T }>[];
  }

  async waitFor<T extends StreamMessage['type']>(type: T, count: number, timeoutMs = 10_000): Promise<Extract<StreamMessage, { type: T }>[]> {
    return waitFor(`${count} ${type} messages`, () => (this.of(type).length >= count ? this.of(type) : undefined), timeoutMs);
  }

  close(): void {
    this.ws.terminate();
  }
}
