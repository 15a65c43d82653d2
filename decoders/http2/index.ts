// HTTP/2 + HPACK decoding: the public surface of this folder.
export { Http2Decoder, DEFAULT_MAX_BODY_CAPTURE, DEFAULT_MAX_CONCURRENT_STREAMS, MAX_GRPC_MESSAGES_LISTED, HTTP2_VERSION } from './http2-decoder.js';
export type { Http2DecoderOptions, Http2Message, Http2MessageFields, Http2Request, Http2Response, GrpcMessageInfo, FrameInfo } from './http2-decoder.js';
export { Http2ConnectionDecoder } from './http2-connection.js';
export type { Http2ConnectionOptions } from './http2-connection.js';
export { Http2ErrorCode } from './errors.js';
export { HpackDecoder, HPACK_TABLE_SIZE_CEILING, DEFAULT_HEADER_TABLE_SIZE, DEFAULT_MAX_HEADER_LIST_SIZE } from './hpack-decoder.js';
export type { HpackDecoderOptions, HpackResult, HpackError } from './hpack-decoder.js';
export { FrameParser, FrameType, FrameFlag, SettingId, CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_CEILING } from './frame-parser.js';
export type { FrameEvent, FrameParserOptions, PriorityInfo } from './frame-parser.js';
export { decodeHuffman } from './huffman.js';
export { http2MessageKind } from './message-kind.js';
