# Paced serial line for tb-gw's RTU benchmark (ours; stdlib only, run with Debian /usr/bin/python3).
# A pty moves bytes as fast as processes copy them, so an RTU exchange over a bare socat pair says
# nothing about a real wire. This relay stands for the wire: it opens two ptys (pty.openpty()), prints
# "LINE <tty for the master> DEVICE <tty for the device>" and carries bytes between them no faster
# than the baud rate allows. Each character takes `bitsPerChar` bit times (10 for 8N1; 11 for 8E1/8N2,
# the figure the Modbus spec uses for RTU); a character is handed to the receiver only when its last
# bit would have arrived (so the first comes one character time after it was written, not at once).
#
# Usage: paced_line.py '{"baudrate": 115200, "bitsPerChar": 11, "duplex": "half", "realtime": true}'
# duplex "half" (default; RS-485 two-wire, the usual Modbus RTU bus): one line for both directions, so
#   characters of either direction queue behind whatever is on the line.
# duplex "full" (RS-232 / four-wire RS-485): each direction has its own line.
# A character is put on the line when the relay reads it from the sender's pty, as a UART starts
# shifting a byte out when the program writes it; the receiver is an ideal UART (no FIFO trigger level
# or USB latency timer), so this is the best a real wire could do, never better.
#
# echo (default false): the master also receives its own characters as they go out, as an RS-485
#   adapter whose receiver stays on while it transmits (tb-gw's `handleLocalEcho`).
# realtime (default true): run the relay under SCHED_FIFO when allowed (root / CAP_SYS_NICE), so that
#   the wire keeps its pace on a loaded machine; the processes under test are left at normal priority.
#   A wire is not a process competing for the cores: without this, a starved relay delivers late (up to
#   hundreds of ms at load 10 on 2 cores) and the figure says more about the machine than the master.
#   The relay sleeps between characters (≈ 20–35 % of a core while the line is busy), and the kernel's
#   real-time throttling caps it anyway. Whether it got it is in STATS ("realtime").
# On SIGUSR1 it prints one "STATS {json}" line: bytes and frames each way (a frame = characters
# separated by less than 3.5 character times, as RTU receivers cut them), the wire-level turnaround of
# each side (from the end of the other side's last character to the start of its own reply: the
# master's is the time it takes to send its next request once an answer has arrived), how often the
# master started sooner than 3.5 characters after an answer (a real slave may miss that request), line
# busy time, and how late the relay itself delivered characters against their due time (its own
# scheduling error, which only makes the line slower).
import ctypes, json, os, pty, select, signal, sys, time, tty
from collections import deque

cfg = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
BAUD = int(cfg.get("baudrate", 115200))
BITS = int(cfg.get("bitsPerChar", 11))
HALF = cfg.get("duplex", "half") == "half"
ECHO = bool(cfg.get("echo", False))
CHAR = BITS / BAUD  # seconds per character
GAP = 3.5 * CHAR

# Wake-ups are the relay's whole job: ask the kernel for ~1 µs timer slack instead of the default
# 50 µs, so a character is delivered close to its due time (prctl(PR_SET_TIMERSLACK = 29)).
try:
    ctypes.CDLL(None, use_errno=True).prctl(29, 1000, 0, 0, 0)
except Exception:  # not Linux: default slack, the line is only a little slower
    pass
REALTIME = False
if cfg.get("realtime", True):
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        REALTIME = True
    except (AttributeError, PermissionError, OSError):
        pass  # normal priority: STATS says so


def openpty_raw():
    m, s = pty.openpty()
    tty.setraw(s)  # no echo or line editing until a program sets its own
    return m, s


# The slave fds stay open here, so the line survives the master closing and reopening its port.
line_m, line_s = openpty_raw()
dev_m, dev_s = openpty_raw()
for fd in (line_m, dev_m):
    os.set_blocking(fd, False)
print(f"LINE {os.ttyname(line_s)} DEVICE {os.ttyname(dev_s)}", flush=True)

now = time.monotonic


class Direction:
    def __init__(self, name, src, dst):
        self.name, self.src, self.dst = name, src, dst
        self.segments = deque()  # [start, data, sent]: byte i is due at start + (i + 1) * CHAR
        self.free_at = 0.0  # end of the last character scheduled in this direction
        self.bytes = self.frames = 0
        self.turnarounds = []  # seconds, one per frame that answered the other direction
        self.blocked = False  # receiver's pty full: wait until it can take more

    def next_due(self):
        if not self.segments or self.blocked:
            return None
        start, _, sent = self.segments[0]
        return start + (sent + 1) * CHAR


master = Direction("master", line_m, dev_m)
device = Direction("device", dev_m, line_m)
other = {master: device, device: master}
by_fd = {line_m: master, dev_m: device}
shared = {"free_at": 0.0, "last": None}  # half duplex: the one line's end of schedule, last sender
stats = {"lateSum": 0.0, "lateMax": 0.0, "lateN": 0, "busy": 0.0, "earlyRequests": 0, "t0": now()}


def accept(d, data, t):
    """`data` written by d's side at t: schedule its characters on the line."""
    free = shared["free_at"] if HALF else d.free_at
    start = max(t, free)
    o = other[d]
    # A new frame: the other side spoke last, or this side was silent for 3.5 characters.
    if shared["last"] is not d or start - d.free_at >= GAP:
        d.frames += 1
        if shared["last"] is o:
            ta = start - o.free_at
            d.turnarounds.append(ta)
            if d is master and ta < GAP:
                stats["earlyRequests"] += 1
    shared["last"] = d
    d.segments.append([start, data, 0])
    end = start + len(data) * CHAR
    stats["busy"] += len(data) * CHAR
    d.free_at = end
    if HALF:
        shared["free_at"] = end
    d.bytes += len(data)


def release(d, t):
    """Hand over every character of d whose last bit has arrived by t."""
    while d.segments:
        seg = d.segments[0]
        start, data, sent = seg
        due = min(len(data), int((t - start) / CHAR))
        if due <= sent:
            return
        late = t - (start + due * CHAR)
        stats["lateSum"] += late
        stats["lateN"] += 1
        stats["lateMax"] = max(stats["lateMax"], late)
        try:
            os.write(d.dst, data[sent:due])
            if ECHO and d is master:
                os.write(d.src, data[sent:due])
        except BlockingIOError:
            d.blocked = True  # receiver's pty full: retried once it drains (only ever later)
            return
        except OSError:
            pass  # nobody on that end (port closed): the characters fall off the wire
        if due == len(data):
            d.segments.popleft()
        else:
            seg[2] = due


def summary(ta):
    if not ta:
        return None
    s = sorted(ta)
    return {"n": len(s), "meanUs": round(sum(s) / len(s) * 1e6, 1), "p50Us": round(s[len(s) // 2] * 1e6, 1),
            "p99Us": round(s[min(len(s) - 1, int(len(s) * 0.99))] * 1e6, 1)}


def print_stats(*_):
    wall = now() - stats["t0"]
    out = {
        "baud": BAUD, "bitsPerChar": BITS, "duplex": "half" if HALF else "full", "realtime": REALTIME, "charUs": round(CHAR * 1e6, 2),
        "seconds": round(wall, 3), "lineBusyPct": round(stats["busy"] / wall * 100, 1) if wall > 0 else 0,
        "masterBytes": master.bytes, "masterFrames": master.frames, "deviceBytes": device.bytes, "deviceFrames": device.frames,
        "masterTurnaround": summary(master.turnarounds), "deviceTurnaround": summary(device.turnarounds),
        "requestsSoonerThan3_5Chars": stats["earlyRequests"],
        "deliveryLateMeanUs": round(stats["lateSum"] / stats["lateN"] * 1e6, 1) if stats["lateN"] else 0,
        "deliveryLateMaxUs": round(stats["lateMax"] * 1e6, 1),
    }
    print("STATS " + json.dumps(out), flush=True)


def reset_stats(*_):
    """SIGUSR2: start a new measurement window."""
    for d in (master, device):
        d.bytes = d.frames = 0
        d.turnarounds = []
    stats.update(lateSum=0.0, lateMax=0.0, lateN=0, busy=0.0, earlyRequests=0, t0=now())


signal.signal(signal.SIGUSR1, print_stats)
signal.signal(signal.SIGUSR2, reset_stats)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

fds = [line_m, dev_m]
while True:
    dues = [x for x in (master.next_due(), device.next_due()) if x is not None]
    # select(), not poll()/epoll(): their timeouts are whole milliseconds, a character is 96 µs.
    timeout = max(0.0, min(dues) - now()) if dues else None
    blocked = [d.dst for d in (master, device) if d.blocked]
    readable, writable, _ = select.select(fds, blocked, [], timeout)
    t = now()
    for d in (master, device):
        if d.dst in writable:
            d.blocked = False
    for fd in readable:
        try:
            data = os.read(fd, 4096)
        except (BlockingIOError, OSError):
            continue
        if data:
            accept(by_fd[fd], data, t)
    release(master, t)
    release(device, t)
