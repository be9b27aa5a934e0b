# Serial LINE simulator for tb-gw's scan tests (ours; stdlib only, run with Debian /usr/bin/python3).
# It is not a Modbus device: the device behind it is the pymodbus peer. It stands for the wire and two
# UARTs between a master (tb-gw) and that device, so that line settings matter as on a real bus.
#
# Usage: line_sim.py '{"baudrate": 19200, "parity": "E", "stopbits": 1, "seed": 1}'
# Opens two pty pairs with pty.openpty() and prints "LINE <master-side tty> DEVICE <device-side tty>".
# Bytes are carried between the two only while the settings the master applied to its tty equal the
# line's; otherwise they are corrupted as a UART at the wrong settings would: toward the device they
# are dropped (its receiver discards characters with framing/parity errors), toward the master they
# are garbled (some lost, the rest with wrong bits). Each change of the master's settings is printed.
#
# How the master's settings are seen: on Linux, tcgetattr() on a pty's master fd returns the slave
# side's termios, so the simulator reads exactly what `stty` applied (baud rate, CSTOPB, PARODD). The
# Linux pty driver forces CS8 and clears PARENB on every tcsetattr (pty_set_termios), so "parity on"
# is taken from PARENB or, on a pty, from INPCK (input parity checking), which tb-gw sets exactly when
# it enables parity. A master that enables parity without INPCK reads as "N" here.
# The device's side is checked for baud rate and stop bits only: pyserial (under pymodbus) cannot open
# a pty with parity on (its second tcsetattr fails with EINVAL once the kernel has cleared PARENB), so
# the peer opens its pty 8N1 and the line's parity lives here.
import json, os, pty, random, select, sys, termios, tty

cfg = json.loads(sys.argv[1])
want = (int(cfg.get("baudrate", 19200)), cfg.get("parity", "N"), int(cfg.get("stopbits", 1)))
rng = random.Random(cfg.get("seed", 1))

SPEEDS = {getattr(termios, n): int(n[1:]) for n in dir(termios) if n.startswith("B") and n[1:].isdigit()}


def line_settings(master_fd):
    """(baud, parity, stopbits) the far side of this pty was set to."""
    iflag, _, cflag, _, _, ospeed, _ = termios.tcgetattr(master_fd)
    on = bool(cflag & termios.PARENB) or bool(iflag & termios.INPCK)
    parity = ("O" if cflag & termios.PARODD else "E") if on else "N"
    return SPEEDS.get(ospeed, ospeed), parity, 2 if cflag & termios.CSTOPB else 1


def garble(data):
    out = bytearray()
    for b in data:
        if rng.random() < 0.3:
            continue  # lost: framing error
        out.append(b ^ rng.randrange(1, 256))
    return bytes(out)


def openpty_raw():
    m, s = pty.openpty()
    tty.setraw(s)  # no echo or line editing until a program sets its own
    return m, s


# The slave fds stay open here, so the line exists while the master closes and reopens its port
# (scan reopens it for each setting) and reading the master fds never hits EIO.
line_m, line_s = openpty_raw()
dev_m, dev_s = openpty_raw()
print(f"LINE {os.ttyname(line_s)} DEVICE {os.ttyname(dev_s)}", flush=True)

last = None
while True:
    ready, _, _ = select.select([line_m, dev_m], [], [])
    seen, dev = line_settings(line_m), line_settings(dev_m)
    match = seen == want and (dev[0], dev[2]) == (want[0], want[2])
    if (seen, dev) != last:
        last = (seen, dev)
        print(f"SETTINGS {seen[0]} 8{seen[1]}{seen[2]} device {dev[0]} {'match' if match else 'mismatch'}", flush=True)
    for fd in ready:
        data = os.read(fd, 4096)
        if fd == line_m:
            if match:
                os.write(dev_m, data)
        else:
            os.write(line_m, data if match else garble(data))
