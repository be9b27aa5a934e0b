// How many bytes a serial port's reader waits for before it is woken: the tty's VMIN, set with
// tcsetattr through bun:ffi and libc (Linux). With VMIN = n (VTIME 0) the kernel reports the port
// readable (poll/epoll, which Bun's file stream waits on) only once n bytes are waiting; a read then
// takes everything there. A line that hands characters over one at a time (an RTU answer of 25
// bytes arriving 0.1 ms apart at 115200 baud) otherwise wakes the reader per character, each wake a
// stream pull of ~15 µs of CPU. Everything here is best effort: on another OS or libc, or if a call
// fails, the port simply stays at one byte per wake-up (what `stty ... min 1` set at open).

import { dlopen, FFIType, ptr } from "bun:ffi";

interface Libc {
  tcgetattr(fd: number, termios: ReturnType<typeof ptr>): number;
  tcsetattr(fd: number, when: number, termios: ReturnType<typeof ptr>): number;
  tcflush(fd: number, queue: number): number;
}

// glibc's struct termios on Linux (x86-64 and arm64 alike): four 32-bit flag words, c_line, then
// c_cc[32] from byte 17; VMIN is c_cc[6]. 64 bytes covers the whole struct (60 with the speeds).
const TERMIOS_BYTES = 64;
const VMIN_OFFSET = 17 + 6;
const TCSANOW = 0;
const TCIFLUSH = 0;

let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== "linux") return libc;
  try {
    const lib = dlopen("libc.so.6", {
      tcgetattr: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
      tcsetattr: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
      tcflush: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    });
    libc = lib.symbols as unknown as Libc;
  } catch {
    /* no libc.so.6 (musl, static build): one byte per wake-up */
  }
  return libc;
}

/** A port's VMIN, changed only when it differs from what was last set. */
export class TtyWake {
  private readonly termios = new Uint8Array(TERMIOS_BYTES);
  private readonly termiosPtr: ReturnType<typeof ptr> | undefined;
  private current = 1;
  private readonly usable: boolean;

  constructor(private readonly fd: number) {
    const c = loadLibc();
    this.termiosPtr = c ? ptr(this.termios) : undefined;
    this.usable = !!c && c.tcgetattr(fd, this.termiosPtr!) === 0;
    if (this.usable) this.current = this.termios[VMIN_OFFSET]!;
  }

  /** Wake the reader once `n` bytes (1..255) are waiting. False if the port cannot do it. */
  after(n: number): boolean {
    if (!this.usable) return false;
    const want = Math.max(1, Math.min(255, Math.floor(n)));
    if (want === this.current) return true;
    this.termios[VMIN_OFFSET] = want;
    if (libc!.tcsetattr(this.fd, TCSANOW, this.termiosPtr!) !== 0) return false;
    this.current = want;
    return true;
  }

  /** Drop bytes received but not read yet (left over from an answer that came too late or broken). */
  discardInput(): void {
    if (this.usable) libc!.tcflush(this.fd, TCIFLUSH);
  }
}
