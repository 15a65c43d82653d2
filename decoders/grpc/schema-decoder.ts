// gRPC payloads decoded to JSON with a protobuf schema (protobufjs Root, built by the
// caller from .proto files or a FileDescriptorSet): the method named by :path gives
// the request and response types.
import type protobuf from 'protobufjs';
import { splitGrpcPath } from './grpc-call.js';

export interface MethodTypes {
  request: protobuf.Type;
  response: protobuf.Type;
}

const toObjectOptions: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String, defaults: false, json: true };

export class GrpcSchemaDecoder {
  readonly #root: protobuf.Root;
  /** Methods resolved (or not: null) per path; bounded by the schema's methods plus misses kept below a cap. */
  readonly #methods = new Map<string, MethodTypes | null>();

  constructor(root: protobuf.Root) {
    this.#root = root;
    root.resolveAll();
  }

  /** The method's types, or undefined when the schema does not know it. */
  method(path: string): MethodTypes | undefined {
    let types = this.#methods.get(path);
    if (types === undefined) {
      types = this.#lookup(path);
      if (this.#methods.size < 4096) this.#methods.set(path, types);
    }
    return types ?? undefined;
  }

  /** One message as a plain JSON-ready object; throws on bytes that do not decode as the type. */
  decode(type: protobuf.Type, payload: Uint8Array): Record<string, unknown> {
    return type.toObject(type.decode(payload), toObjectOptions);
  }

  #lookup(path: string): MethodTypes | null {
    const { service, method } = splitGrpcPath(path);
    if (service === '') return null;
    let found: protobuf.ReflectionObject | null = null;
    try {
      found = this.#root.lookup(service);
    } catch {
      return null;
    }
    if (!found || !('methods' in found)) return null;
    const m = (found as protobuf.Service).methods[method];
    if (!m || !m.resolvedRequestType || !m.resolvedResponseType) return null;
    return { request: m.resolvedRequestType, response: m.resolvedResponseType };
  }
}
