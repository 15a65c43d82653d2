// The gRPC part of a Flow, from the gRPC part of an Exchange.
import type { GrpcInfo } from '../schema/flow.js';
import type { Exchange } from './exchange.js';

export function grpcInfo(exchange: Exchange): GrpcInfo | undefined {
  const grpc = exchange.grpc;
  if (!grpc) return undefined;
  const info: GrpcInfo = {
    service: grpc.service,
    method: grpc.method,
    requestMessages: grpc.requestMessages,
    responseMessages: grpc.responseMessages,
  };
  if (grpc.status !== undefined) info.status = grpc.status;
  if (grpc.message !== undefined) info.message = grpc.message;
  if (grpc.inProgress) info.inProgress = true;
  if (grpc.requestPayloads?.length) info.requestPayloads = grpc.requestPayloads;
  if (grpc.responsePayloads?.length) info.responsePayloads = grpc.responsePayloads;
  return info;
}
