#!/usr/bin/env python3
"""Answers GroupValueRead on a knxd bus, as the KNX devices behind the group addresses would.

knxd's dummy bus has no devices, so nothing answers a read; this joins knxd through its local
socket (the eibd client protocol: 2-byte length, 2-byte message type, then the message) as a group
socket and answers each GroupValueRead of a known address with a GroupValueResponse. Values come
from argv[2] (JSON: {"1/0/6": "0c1a", "1/0/8": "small:1"}) and from stdin lines "1/0/6 0c1a";
a stdin line "burst <n> <address> <hex>" sends n GroupValueWrite telegrams (for the benchmark).
Every group telegram seen is printed as "<kind> <address> <hex>" for the test's log.
"""
import json
import socket
import struct
import sys
import threading

EIB_OPEN_GROUPCON = 0x26
EIB_GROUP_PACKET = 0x27


def ga_raw(text):
    a, b, c = (int(x) for x in text.split("/"))
    return (a << 11) | (b << 8) | c


def ga_text(raw):
    return f"{raw >> 11 & 0x1f}/{raw >> 8 & 7}/{raw & 0xff}"


def parse_value(v):
    return ("small", int(v[6:])) if v.startswith("small:") else ("bytes", bytes.fromhex(v))


values = {ga_raw(k): parse_value(v) for k, v in json.loads(sys.argv[2]).items()}
lock = threading.Lock()
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])


def send(msg_type, body):
    msg = struct.pack(">H", msg_type) + body
    with lock:
        sock.sendall(struct.pack(">H", len(msg)) + msg)


def recv_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def recv():
    (length,) = struct.unpack(">H", recv_exact(2))
    msg = recv_exact(length)
    return struct.unpack(">H", msg[:2])[0], msg[2:]


send(EIB_OPEN_GROUPCON, b"\x00\x00\x00")
kind, _ = recv()
if kind != EIB_OPEN_GROUPCON:
    sys.exit(f"knxd refused the group socket (message type {kind:#x})")


def stdin_values():
    for line in sys.stdin:
        parts = line.split()
        if len(parts) == 4 and parts[0] == "burst":
            dst = struct.pack(">H", ga_raw(parts[2]))
            apdu = bytes([0x00, 0x80]) + bytes.fromhex(parts[3])
            for _ in range(int(parts[1])):
                send(EIB_GROUP_PACKET, dst + apdu)
            print("burst sent", flush=True)
        elif len(parts) == 2:
            values[ga_raw(parts[0])] = parse_value(parts[1])
            print("set", parts[0], parts[1], flush=True)


threading.Thread(target=stdin_values, daemon=True).start()
print("ready", flush=True)
try:
    while True:
        kind, body = recv()
        if kind != EIB_GROUP_PACKET or len(body) < 6:
            continue
        dst = struct.unpack(">H", body[2:4])[0]
        apdu = body[4:]
        apci = ((apdu[0] & 3) << 8 | apdu[1]) & 0x3C0
        name = {0x000: "read", 0x040: "response", 0x080: "write"}.get(apci, "other")
        data = bytes([apdu[1] & 0x3F]) if len(apdu) == 2 else apdu[2:]
        print(name, ga_text(dst), data.hex(), flush=True)
        if name == "read" and dst in values:
            vkind, v = values[dst]
            apdu_out = bytes([0x00, 0x40 | (v & 0x3F)]) if vkind == "small" else bytes([0x00, 0x40]) + v
            send(EIB_GROUP_PACKET, struct.pack(">H", dst) + apdu_out)
except EOFError:
    pass
