// Every decode error the HTTP/2 decoders report, one stable code each.

export const Http2ErrorCode = {
  /** Client direction did not start with `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`. */
  BAD_PREFACE: 'FLOWSCOPE_ERR_HTTP2_BAD_PREFACE',
  /** Frame length above the peer's SETTINGS_MAX_FRAME_SIZE (framing kept: the length is on the wire). */
  FRAME_TOO_LARGE: 'FLOWSCOPE_ERR_HTTP2_FRAME_TOO_LARGE',
  /** Fixed-size frame (PRIORITY, RST_STREAM, PING, SETTINGS, WINDOW_UPDATE, GOAWAY) with a wrong length. */
  FRAME_SIZE: 'FLOWSCOPE_ERR_HTTP2_FRAME_SIZE',
  /** Pad length not smaller than the frame payload. */
  BAD_PADDING: 'FLOWSCOPE_ERR_HTTP2_BAD_PADDING',
  /** Stream id not allowed for this frame type or direction (0 where a stream is needed, even client stream, …). */
  BAD_STREAM_ID: 'FLOWSCOPE_ERR_HTTP2_BAD_STREAM_ID',
  /** A frame other than CONTINUATION inside a header block, or CONTINUATION outside one. */
  CONTINUATION_EXPECTED: 'FLOWSCOPE_ERR_HTTP2_CONTINUATION_EXPECTED',
  /** Header block (HEADERS/PUSH_PROMISE + CONTINUATION) above the cap in bytes or frames: not decoded. */
  HEADER_BLOCK_TOO_LARGE: 'FLOWSCOPE_ERR_HTTP2_HEADER_BLOCK_TOO_LARGE',
  /** HEADERS opening a stream id that was already used on this connection. */
  STREAM_ID_REUSE: 'FLOWSCOPE_ERR_HTTP2_STREAM_ID_REUSE',
  /** More open streams than the decoder tracks: the new stream is not reported. */
  TOO_MANY_STREAMS: 'FLOWSCOPE_ERR_HTTP2_TOO_MANY_STREAMS',
  /** DATA or trailers on a stream that is closed or was never opened. */
  STREAM_STATE: 'FLOWSCOPE_ERR_HTTP2_STREAM_STATE',
  /** Decoded header list lacks the pseudo-headers HTTP/2 requires (:method/:path, :status). */
  MALFORMED_HEADERS: 'FLOWSCOPE_ERR_HTTP2_MALFORMED_HEADERS',
  /** Bytes were lost (skip): framing is gone until a plausible frame header is found. */
  GAP: 'FLOWSCOPE_ERR_HTTP2_GAP',
  /** Bytes discarded while looking for a frame header (after a gap, a bad preface or a mid-stream start). */
  RESYNC_DISCARD: 'FLOWSCOPE_ERR_HTTP2_RESYNC_DISCARD',
  /** The direction ended in the middle of a frame or header block. */
  TRUNCATED: 'FLOWSCOPE_ERR_HTTP2_TRUNCATED',

  /** Integer representation longer than any sane value (RFC 7541 §5.1). */
  HPACK_INTEGER_OVERFLOW: 'FLOWSCOPE_ERR_HPACK_INTEGER_OVERFLOW',
  /** Header block ended in the middle of a representation. */
  HPACK_TRUNCATED: 'FLOWSCOPE_ERR_HPACK_TRUNCATED',
  /** Index 0 or past the end of the static + dynamic table. */
  HPACK_INVALID_INDEX: 'FLOWSCOPE_ERR_HPACK_INVALID_INDEX',
  /** Huffman string with an invalid code, an EOS symbol or bad padding (RFC 7541 §5.2). */
  HPACK_INVALID_HUFFMAN: 'FLOWSCOPE_ERR_HPACK_INVALID_HUFFMAN',
  /** Dynamic table size update above SETTINGS_HEADER_TABLE_SIZE or the decoder's ceiling. */
  HPACK_TABLE_SIZE_TOO_LARGE: 'FLOWSCOPE_ERR_HPACK_TABLE_SIZE_TOO_LARGE',
  /** Dynamic table size update after the first header field of a block. */
  HPACK_TABLE_SIZE_UPDATE_MISPLACED: 'FLOWSCOPE_ERR_HPACK_TABLE_SIZE_UPDATE_MISPLACED',
  /** Decoded header list above maxHeaderListSize: the rest of the fields are dropped (table kept in step). */
  HPACK_HEADER_LIST_TOO_LARGE: 'FLOWSCOPE_ERR_HPACK_HEADER_LIST_TOO_LARGE',
} as const;

export type Http2ErrorCode = (typeof Http2ErrorCode)[keyof typeof Http2ErrorCode];
