// What an HTTP/2 stream says about the gRPC call it carries: service and method
// from :path, status and message from trailers (or from the headers of a
// trailers-only response). Pure: header fields in, plain values out.
import { headerValue } from '../message.js';
import type { HeaderField } from '../message.js';

export interface GrpcCallInfo {
  service: string;
  method: string;
  /** Numeric grpc-status; absent when the call has not ended (or its trailers were not seen). */
  status?: number;
  /** grpc-message, percent-decoded. */
  message?: string;
}

/** content-type application/grpc, application/grpc+proto, application/grpc-web… */
export function isGrpcContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/grpc(?:[+;-]|$)/.test(contentType.trim().toLowerCase());
}

/** `/pkg.Service/Method` → service `pkg.Service`, method `Method`; anything else keeps the path as the method. */
export function splitGrpcPath(path: string): { service: string; method: string } {
  const m = /^\/([^/]+)\/([^/?]+)$/.exec(path);
  return m ? { service: m[1]!, method: m[2]! } : { service: '', method: path };
}

/**
 * The call as seen so far. `responseHeaders` are the response's header fields;
 * `trailers` its trailers. A trailers-only response carries grpc-status in its headers.
 */
export function grpcCallInfo(path: string, responseHeaders: HeaderField[] | undefined, trailers: HeaderField[] | undefined): GrpcCallInfo {
  const info: GrpcCallInfo = splitGrpcPath(path);
  const source = trailers && headerValue(trailers, 'grpc-status') !== undefined ? trailers : responseHeaders;
  if (!source) return info;
  const status = headerValue(source, 'grpc-status');
  if (status !== undefined && /^\d{1,5}$/.test(status.trim())) info.status = Number(status.trim());
  const message = headerValue(source, 'grpc-message');
  if (message !== undefined && message !== '') info.message = percentDecode(message);
  return info;
}

/** gRPC percent-encodes grpc-message as UTF-8; a malformed escape is kept as written. */
export function percentDecode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
