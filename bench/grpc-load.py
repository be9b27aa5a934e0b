# Load generator for bench/grpc.ts: one connector process (Debian python3-grpcio, stubs from our
# messages.proto on PYTHONPATH) that registers and then sends telemetry requests back to back, one
# call at a time as the reference client does. Each request: DEVICES devices x KEYS keys.
# argv: port key requests devices keys. Prints one JSON line when done.
import json
import sys
import time
import uuid

import grpc

import messages_pb2 as m
import messages_pb2_grpc as g

port, key, requests, devices, keys = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
stub = g.TBGatewayProtoServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
md = [("identifier", str(uuid.uuid4()))]
reply = stub.stream(m.FromConnectorMessage(registerConnectorMsg=m.RegisterConnectorMsg(connectorKey=key)), metadata=md, timeout=15)
if reply.response.status != m.SUCCESS:
    sys.exit(f"register failed: {reply}")


def request(seq):
    msg = m.FromConnectorMessage()
    now = int(time.time() * 1000)
    for d in range(devices):
        t = msg.gatewayTelemetryMsg.msg.add(deviceName=f"grpc-bench-{d}")
        entry = t.msg.tsKvList.add(ts=now)
        entry.kv.add(key="seq", type=m.LONG_V, long_v=seq)
        for k in range(keys - 1):
            entry.kv.add(key=f"k{k}", type=m.DOUBLE_V, double_v=seq + k / 10)
    return msg


t0 = time.perf_counter()
for i in range(1, requests + 1):
    stub.stream(request(i), metadata=md, timeout=15)
print(json.dumps({"seconds": time.perf_counter() - t0, "requests": requests}), flush=True)
