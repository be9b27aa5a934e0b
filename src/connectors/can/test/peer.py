#!/usr/bin/python3
# The device side of the CAN connector tests: python-can's own slcan interface (Debian python3-can)
# on one end of a socat pty pair, driven through stdin, reporting on stdout.
#   stdin:  send <id> <std|ext> <hex data>         one frame
#           burst <count> <id> <std|ext> <hex data>  `count` frames as fast as the line takes them,
#                                                    the last 4 data bytes replaced by a counter
#           answer <poll id> <reply id> <std|ext> <hex data>  reply with this frame to every frame on <poll id>
#   stdout: READY, SENT <n>, RECV <id> <std|ext> <hex data> for every frame the gateway writes
import os
import sys
import threading

import can

path = sys.argv[1]
bus = can.Bus(interface="slcan", channel=path, sleep_after_open=0)
answers = {}
lock = threading.Lock()


def out(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def frame(ident, kind, data):
    return can.Message(arbitration_id=int(ident), is_extended_id=(kind == "ext"), data=bytes.fromhex(data))


def commands():
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "send":
            bus.send(frame(parts[1], parts[2], "".join(parts[3:])))
            out("SENT 1")
        elif parts[0] == "burst":
            count, ident, kind = int(parts[1]), parts[2], parts[3]
            data = bytearray.fromhex("".join(parts[4:]))
            for i in range(count):
                data[-4:] = i.to_bytes(4, "big")
                bus.send(can.Message(arbitration_id=int(ident), is_extended_id=(kind == "ext"), data=bytes(data)))
            out("SENT %d" % count)
        elif parts[0] == "answer":
            answers[int(parts[1])] = frame(parts[2], parts[3], "".join(parts[4:]))
            out("ANSWERING %s" % parts[1])
    bus.shutdown()
    os._exit(0)


threading.Thread(target=commands, daemon=True).start()
out("READY")
while True:
    msg = bus.recv(timeout=0.2)
    if msg is None:
        continue
    out("RECV %d %s %s" % (msg.arbitration_id, "ext" if msg.is_extended_id else "std", msg.data.hex()))
    reply = answers.get(msg.arbitration_id)
    if reply is not None:
        bus.send(reply)
