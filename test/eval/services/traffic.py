# Normal traffic of the scenario's "frontend": HTTPS calls to the web tier
# (which proxies to the api) and gRPC calls to inventory, from several workers
# on keep-alive connections, at a total rate that drifts slowly between a low
# and a high value. Runs until killed. Usage: traffic.py WEB_HOST WEB_PORT GRPC_TARGET
import base64
import http.client
import math
import random
import ssl
import sys
import threading
import time

import grpc

web_host, web_port, grpc_target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
WORKERS = 4
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

good_login = "Basic " + base64.b64encode(b"alice:secret").decode()
bad_login = "Basic " + base64.b64encode(b"alice:typo").decode()
start = time.monotonic()


def connect():
    return http.client.HTTPSConnection(web_host, web_port, context=ctx, timeout=10)


def call(conn, method, path, headers=None):
    conn.request(method, path, headers=headers or {})
    resp = conn.getresponse()
    resp.read()
    return resp.status


def worker(seed):
    rng = random.Random(seed)
    channel = grpc.insecure_channel(grpc_target)
    check = channel.unary_unary("/inventory.Inventory/Check")
    conn = connect()
    while True:
        elapsed = time.monotonic() - start
        # 14 to 26 calls a second in all, drifting over two minutes.
        rate = (20 + 6 * math.sin(elapsed / 120 * 2 * math.pi)) / WORKERS
        pick = rng.random()
        try:
            if pick < 0.45:
                call(conn, "GET", f"/api/users/{rng.randint(1, 5)}")
            elif pick < 0.75:
                call(conn, "GET", f"/api/orders?limit={rng.choice([5, 10, 20])}")
            elif pick < 0.85:
                # Now and then a mistyped password: a few 401s are normal.
                call(conn, "POST", "/api/login", {"Authorization": bad_login if rng.random() < 0.1 else good_login})
            else:
                check(b"\x0a\x04sku" + bytes([rng.randint(48, 57)]), timeout=5)
        except Exception as err:  # reconnect on any failure, keep going
            print(f"traffic: {err!r}", file=sys.stderr)
            conn.close()
            conn = connect()
        time.sleep(rng.expovariate(rate))


for i in range(WORKERS):
    threading.Thread(target=worker, args=(7 + i,), daemon=True).start()
threading.Event().wait()
