// The agent's gRPC payload decoding (--grpc-decode, --proto-path): builds the schema
// from .proto files or a FileDescriptorSet, and turns a direction's captured body into
// one JSON text per message. Off unless configured: payloads can hold secrets.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { grpcMessages } from '../../decoders/grpc/grpc-messages.js';
import { GrpcSchemaDecoder } from '../../decoders/grpc/schema-decoder.js';
import { decodeSchemaless } from '../../decoders/grpc/schemaless.js';
import { ErrorCodes, FlowscopeError } from '../errors.js';
import type { PipelineOptions } from '../pipeline.js';
import type { GrpcPayloadDecoder } from './http2-session.js';

export type GrpcDecodeMode = 'schema' | 'schemaless' | 'off';

const DESCRIPTOR_SET = /\.(pb|binpb|desc|protoset)$/;

/** A protobufjs Root from a directory of .proto files (recursively) or a FileDescriptorSet file. */
export function loadGrpcSchema(path: string): protobuf.Root {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, `--proto-path ${path} does not exist`, 'pass a directory of .proto files or a FileDescriptorSet (protoc --descriptor_set_out)');
  }
  try {
    if (stat.isFile() && DESCRIPTOR_SET.test(path)) {
      const set = descriptor.FileDescriptorSet.decode(readFileSync(path));
      return (protobuf.Root as unknown as { fromDescriptor(d: unknown): protobuf.Root }).fromDescriptor(set);
    }
    const files = stat.isDirectory() ? protoFiles(path) : [path];
    if (files.length === 0) throw new Error('no .proto files found');
    const root = new protobuf.Root();
    // Imports are resolved against the directory given, as protoc -I would.
    const base = stat.isDirectory() ? path : join(path, '..');
    root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(base, target));
    return root.loadSync(files);
  } catch (err) {
    if (err instanceof FlowscopeError) throw err;
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, `--proto-path ${path}: ${(err as Error).message}`, 'check that the .proto files compile with protoc');
  }
}

function protoFiles(dir: string, depth = 0): string[] {
  if (depth > 16) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...protoFiles(full, depth + 1));
    else if (entry.name.endsWith('.proto')) out.push(full);
  }
  return out.sort();
}

/**
 * One JSON text per message: the decoded object with a schema; `{"@schemaless": fields}`
 * for a method the schema lacks or in schemaless mode; `{"@error": reason}` otherwise.
 */
export function grpcPayloadDecoder(mode: Exclude<GrpcDecodeMode, 'off'>, root?: protobuf.Root): GrpcPayloadDecoder {
  const schema = mode === 'schema' && root ? new GrpcSchemaDecoder(root) : undefined;
  return (path, side, body, encoding) => {
    const types = schema?.method(path);
    const type = types && (side === 'request' ? types.request : types.response);
    return grpcMessages(body, { encoding }).map((m) => {
      if (!m.ok) return JSON.stringify({ '@error': m.reason, length: m.length });
      if (type) {
        try {
          return JSON.stringify(schema!.decode(type, m.payload));
        } catch {
          // Bytes that do not fit the schema's type: show their wire format instead.
        }
      }
      return JSON.stringify({ '@schemaless': decodeSchemaless(m.payload).fields });
    });
  };
}

/** The pipeline's gRPC settings from the agent's flags (--grpc-decode, --proto-path; the progress interval already checked). */
export function grpcSettings(values: Record<string, unknown>, progressIntervalSeconds: number): NonNullable<PipelineOptions['grpc']> {
  const protoPath = values['proto-path'] as string | undefined;
  const mode = (values['grpc-decode'] as string | undefined) ?? (protoPath ? 'schema' : 'off');
  if (mode !== 'schema' && mode !== 'schemaless' && mode !== 'off') {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, `--grpc-decode must be schema, schemaless or off, got '${mode}'`, 'pass e.g. --grpc-decode schemaless');
  }
  if (mode === 'schema' && !protoPath) {
    throw new FlowscopeError(ErrorCodes.BAD_FLAG, '--grpc-decode schema needs --proto-path', 'pass --proto-path DIR, or --grpc-decode schemaless');
  }
  return {
    grpcProgressIntervalMs: progressIntervalSeconds * 1000,
    grpcPayloadDecoder: mode === 'off' ? undefined : grpcPayloadDecoder(mode, protoPath ? loadGrpcSchema(protoPath) : undefined),
  };
}
