// gRPC: the call an HTTP/2 stream carries, and its payloads (with or without a schema).
export { grpcCallInfo, isGrpcContentType, percentDecode, splitGrpcPath } from './grpc-call.js';
export type { GrpcCallInfo } from './grpc-call.js';
export { grpcMessages, DEFAULT_MAX_MESSAGES, DEFAULT_MAX_MESSAGE_BYTES } from './grpc-messages.js';
export type { GrpcMessage, GrpcMessageOptions } from './grpc-messages.js';
export { GrpcSchemaDecoder } from './schema-decoder.js';
export type { MethodTypes } from './schema-decoder.js';
export { decodeSchemaless } from './schemaless.js';
export type { SchemalessResult, WireField } from './schemaless.js';
