#!/usr/bin/python3
# A scriptable socket device for the Socket connector tests, on Python's own socket module (an
# implementation independent of Bun's). Commands come one per line on stdin, events go to stdout:
#   tcp-client HOST PORT [N]  open N connections (default 1) to the gateway   -> OPEN <local ports,>
#   tcp-server                listen on 127.0.0.1:0 for the gateway           -> LISTEN <port>, ACCEPT <peer port>
#   udp HOST PORT             bind 127.0.0.1:0, send datagrams to HOST:PORT   -> BOUND <port>
# Commands: send HEX [I] (I = connection index, default the last), sendall HEX (every connection),
#   close [I], reset [I] (RST), reconnect [I] (tcp-client: a new connection in place of I), quit.
# Events: RECV <index> <hex> for every read, EOF <index> when the gateway closes a connection.
import selectors, socket, struct, sys, threading

mode = sys.argv[1]
conns = []
lock = threading.Lock()
# one thread reads every connection (thousands of idle ones cost no thread each)
sel = selectors.DefaultSelector()


def say(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def read_loop():
    while True:
        for key, _ in sel.select(timeout=0.05):
            i, c = key.data
            try:
                data = c.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(c)
                say("EOF %d" % i)
            else:
                say("RECV %d %s" % (i, data.hex()))


def add(c):
    conns.append(c)
    i = len(conns) - 1
    sel.register(c, selectors.EVENT_READ, (i, c))
    return i


threading.Thread(target=read_loop, daemon=True).start()


def connect(host, port):
    c = socket.create_connection((host, port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c


if mode == "tcp-client":
    host, port = sys.argv[2], int(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    ports = []
    for _ in range(n):
        c = connect(host, port)
        ports.append(str(c.getsockname()[1]))
        add(c)
    say("OPEN " + ",".join(ports))
elif mode == "tcp-server":
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)

    def accept():
        while True:
            c, addr = srv.accept()
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            i = add(c)
            say("ACCEPT %d %d" % (i, addr[1]))

    threading.Thread(target=accept, daemon=True).start()
    say("LISTEN %d" % srv.getsockname()[1])
elif mode == "udp":
    target = (sys.argv[2], int(sys.argv[3]))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))

    def udp_reader():
        while True:
            data, addr = u.recvfrom(65536)
            say("RECV %d %s" % (addr[1], data.hex()))

    threading.Thread(target=udp_reader, daemon=True).start()
    say("BOUND %d" % u.getsockname()[1])

def forget(c):
    try:
        sel.unregister(c)
    except (KeyError, ValueError):
        pass


for line in sys.stdin:
    parts = line.split()
    if not parts:
        continue
    cmd, args = parts[0], parts[1:]
    try:
        if cmd == "quit":
            break
        if mode == "udp":
            if cmd == "send":
                u.sendto(bytes.fromhex(args[0]) if args else b"", target)
            say("DONE " + cmd)
            continue
        i = int(args[1]) if cmd == "send" and len(args) > 1 else int(args[0]) if cmd in ("close", "reset", "reconnect") and args else len(conns) - 1
        if cmd == "send":
            conns[i].sendall(bytes.fromhex(args[0]))
        elif cmd == "sendall":
            for c in conns:
                c.sendall(bytes.fromhex(args[0]))
        elif cmd == "close":
            forget(conns[i])
            conns[i].close()
        elif cmd == "reset":
            forget(conns[i])
            conns[i].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conns[i].close()
        elif cmd == "reconnect":
            forget(conns[i])
            conns[i].close()
            c = connect(sys.argv[2], int(sys.argv[3]))
            j = add(c)
            say("OPEN %d %d" % (j, c.getsockname()[1]))
            continue
        say("DONE " + cmd)
    except Exception as e:
        say("FAIL %s %s" % (cmd, e))
