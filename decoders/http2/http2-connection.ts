// Both directions of one HTTP/2 connection, wired so that each side's SETTINGS bound the
// other side's frame sizes and HPACK table size updates.
import type { DecodeError } from '../message.js';
import { Http2Decoder } from './http2-decoder.js';
import type { FrameInfo, Http2DecoderOptions, Http2Request, Http2Response } from './http2-decoder.js';

export interface Http2ConnectionOptions extends Omit<Http2DecoderOptions, 'side' | 'onMessage' | 'onError' | 'onFrame'> {
  onRequest: (m: Http2Request) => void;
  onResponse: (m: Http2Response) => void;
  onError: (e: DecodeError, side: 'client' | 'server') => void;
  onFrame?: (f: FrameInfo, side: 'client' | 'server') => void;
}

export class Http2ConnectionDecoder {
  readonly client: Http2Decoder;
  readonly server: Http2Decoder;

  constructor(options: Http2ConnectionOptions) {
    const { onRequest, onResponse, onError, onFrame, ...shared } = options;
    this.client = new Http2Decoder({
      ...shared,
      side: 'client',
      onMessage: (m) => onRequest(m as Http2Request),
      onError: (e) => onError(e, 'client'),
      onFrame: (f) => {
        if (f.settings) this.server.applyPeerSettings(f.settings);
        onFrame?.(f, 'client');
      },
    });
    this.server = new Http2Decoder({
      ...shared,
      side: 'server',
      onMessage: (m) => onResponse(m as Http2Response),
      onError: (e) => onError(e, 'server'),
      onFrame: (f) => {
        if (f.settings) this.client.applyPeerSettings(f.settings);
        onFrame?.(f, 'server');
      },
    });
  }

  get bufferedBytes(): number {
    return this.client.bufferedBytes + this.server.bufferedBytes;
  }
}
