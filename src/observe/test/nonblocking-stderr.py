# Runs a command with stderr on a NON-BLOCKING pipe that nobody reads for a while, so the child's
# writes hit EAGAIN once the 64 KB pipe buffer is full; then reads everything and prints it to
# stdout, followed by a line "exit <code>".
import fcntl, os, subprocess, sys, time
r, w = os.pipe()
fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
p = subprocess.Popen(sys.argv[1:], stderr=w, stdout=subprocess.DEVNULL)
os.close(w)
time.sleep(1.0)
out = bytearray()
while True:
    chunk = os.read(r, 65536)
    if not chunk:
        break
    out += chunk
sys.stdout.buffer.write(bytes(out))
sys.stdout.write(f"exit {p.wait()}\n")
