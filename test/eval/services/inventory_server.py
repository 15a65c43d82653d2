# The scenario's "inventory" service: a plaintext gRPC server (grpcio, no
# generated code: raw bytes in, raw bytes out) with one unary method.
import sys
from concurrent import futures

import grpc


def check(request, context):
    # A tiny protobuf: field 1 (varint) = quantity in stock.
    return b"\x08" + bytes([len(request) % 100])


def main():
    host, port = sys.argv[1], sys.argv[2]
    handler = grpc.method_handlers_generic_handler(
        "inventory.Inventory",
        {"Check": grpc.unary_unary_rpc_method_handler(check)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"{host}:{port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
