// Who a finding is about: the workload when identity resolved it, else the IP.
import type { Endpoint, Flow } from '../../schema/flow.js';

/** A stable name for one end: `namespace/workload`, `workload`, or the IP. */
export function endpointName(end: Endpoint): string {
  if (end.workload) return end.namespace ? `${end.namespace}/${end.workload}` : end.workload;
  return end.ip;
}

/** The edge a flow travelled: client → server:port. */
export function edgeKey(flow: Flow): string {
  return `${endpointName(flow.source)} -> ${endpointName(flow.destination)}:${flow.destination.port}`;
}

/** The response said "not authenticated / not allowed" (HTTP 401/403, gRPC 16/7). */
export function isAuthFailure(flow: Flow): boolean {
  const grpcStatus = flow.grpc?.status;
  if (grpcStatus === 16 || grpcStatus === 7) return true;
  const status = flow.http.status;
  return status === 401 || status === 403;
}
