// A Linux SocketCAN interface (can0, vcan0…) as the connector's bus, through bun:ffi and libc:
// socket(PF_CAN, SOCK_RAW, CAN_RAW), if_nametoindex, bind to a struct sockaddr_can, error frames
// switched on (CAN_RAW_ERR_FILTER), CAN FD frames when `backend.fd` (CAN_RAW_FD_FRAMES). The socket
// is non-blocking; frames are written here (one write(2) per frame) and read by a Worker thread
// blocked in poll(2) (socketcan-reader.ts says why). libc is loaded on first use, so the module
// costs nothing for other interfaces, and works in the compiled binary (bun:ffi is part of it).

import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { existsSync, readFileSync } from "node:fs";
import { NoteLimiter, type BusEvents, type CanBus } from "./bus.ts";
import type { CanFrame } from "./slcan.ts";
import { CAN_ERR_MASK, CANFD_MTU, decodeFrame, encodeSocketFrame } from "./socketcan-frame.ts";
import { READER_SOURCE } from "./socketcan-reader.ts";

const PF_CAN = 29;
const SOCK_RAW = 3;
const CAN_RAW = 1;
const SOL_CAN_RAW = 101; // SOL_CAN_BASE + CAN_RAW
const CAN_RAW_ERR_FILTER = 2;
const CAN_RAW_FD_FRAMES = 5;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
const O_RDWR = 2;
/** struct sockaddr_can: u16 family, (pad), i32 ifindex, 16-byte address union. */
const SOCKADDR_CAN_SIZE = 24;

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 6: "ENXIO", 9: "EBADF", 11: "EAGAIN", 13: "EACCES", 19: "ENODEV", 22: "EINVAL", 24: "EMFILE",
  92: "ENOPROTOOPT", 93: "EPROTONOSUPPORT", 97: "EAFNOSUPPORT", 100: "ENETDOWN", 105: "ENOBUFS",
};

/** What to do about a failing call, by errno: the reason in words a person can act on. */
function hint(errno: number, channel: string): string {
  switch (errno) {
    case 97:
    case 93:
      return "this kernel has no SocketCAN (load the can and can-raw modules: modprobe can-raw)";
    case 19:
    case 6:
      return `there is no network interface "${channel}" (plug the adapter, or for a virtual bus: ip link add dev ${channel} type vcan && ip link set up ${channel})`;
    case 100:
      return `interface "${channel}" is down (ip link set up ${channel})`;
    case 105:
    case 11:
      return `the transmit queue of "${channel}" is full (nothing acknowledges frames on the bus, or it is too busy)`;
    case 1:
    case 13:
      return "not permitted";
    default:
      return "";
  }
}

type Libc = ReturnType<typeof loadLibc>;
let readerUrl: string | undefined;
let libcCache: Libc | undefined;

function loadLibc() {
  const lib = dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    if_nametoindex: { args: [FFIType.cstring], returns: FFIType.u32 },
    fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    strerror: { args: [FFIType.i32], returns: FFIType.cstring },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
  const s = lib.symbols;
  return {
    s,
    errno: (): number => read.i32(s.__errno_location()!, 0),
  };
}

function libc(): Libc {
  if (process.platform !== "linux") throw new Error("SocketCAN exists only on Linux; use \"slcan\" with a serial-line CAN adapter");
  try {
    libcCache ??= loadLibc();
  } catch (e) {
    throw new Error(`cannot load libc.so.6 for SocketCAN: ${e instanceof Error ? e.message : String(e)}`);
  }
  return libcCache;
}

/** An Error for a failed libc call: "bind(vcan0) failed: ENODEV (No such device): there is no network interface…". */
function sysError(lc: Libc, call: string, errno: number, channel: string): Error {
  const name = ERRNO_NAMES[errno] ?? `errno ${errno}`;
  const text = String(lc.s.strerror(errno) ?? "");
  const why = hint(errno, channel);
  const err = new Error(`${call} failed: ${name}${text ? ` (${text})` : ""}${why ? `: ${why}` : ""}`) as Error & { errno?: number };
  err.errno = errno;
  return err;
}

export interface SocketCanOptions {
  /** Interface name: can0, vcan0. */
  channel: string;
  /** Receive and send CAN FD frames. */
  fd?: boolean;
}

/** Waiting this long for the reader thread to leave its loop (it checks every 200 ms) before ending it. */
const READER_EXIT_WAIT_MS = 3000;

export class SocketCanBus implements CanBus {
  readonly label: string;
  private sock?: number;
  private reader?: Worker;
  private readerExited?: Promise<void>;
  private stopFlag?: Int32Array;
  private readonly notes: NoteLimiter;

  constructor(
    private readonly opts: SocketCanOptions,
    private readonly events: BusEvents,
  ) {
    this.label = `socketcan ${opts.channel}`;
    this.notes = new NoteLimiter(events);
  }

  async open(): Promise<void> {
    const lc = libc();
    const channel = this.opts.channel;
    if (Buffer.byteLength(channel) >= 16 || channel.includes("/") || channel === "") throw new Error(`"${channel}" is not a network interface name (at most 15 characters, like can0 or vcan0)`);
    const fd = lc.s.socket(PF_CAN, SOCK_RAW, CAN_RAW);
    if (fd < 0) throw sysError(lc, "socket(PF_CAN, SOCK_RAW, CAN_RAW)", lc.errno(), channel);
    try {
      const ifindex = lc.s.if_nametoindex(Buffer.from(`${channel}\0`));
      if (ifindex === 0) throw sysError(lc, `if_nametoindex("${channel}")`, lc.errno() || 19, channel);
      this.checkUp(channel);
      const errMask = new Uint32Array([CAN_ERR_MASK]);
      if (lc.s.setsockopt(fd, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, ptr(errMask), 4) < 0) throw sysError(lc, "setsockopt(CAN_RAW_ERR_FILTER)", lc.errno(), channel);
      if (this.opts.fd) {
        const on = new Int32Array([1]);
        if (lc.s.setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, ptr(on), 4) < 0) throw sysError(lc, "setsockopt(CAN_RAW_FD_FRAMES) for backend.fd", lc.errno(), channel);
      }
      const addr = new Uint8Array(SOCKADDR_CAN_SIZE);
      const view = new DataView(addr.buffer);
      view.setUint16(0, PF_CAN, true);
      view.setInt32(4, ifindex, true);
      if (lc.s.bind(fd, ptr(addr), SOCKADDR_CAN_SIZE) < 0) throw sysError(lc, `bind(${channel})`, lc.errno(), channel);
      if (lc.s.fcntl(fd, F_SETFL, O_NONBLOCK | O_RDWR) < 0) throw sysError(lc, "fcntl(O_NONBLOCK)", lc.errno(), channel);
    } catch (e) {
      lc.s.close(fd);
      throw e;
    }
    this.attach(fd);
  }

  /**
   * Reads and writes `fd`, an open non-blocking datagram socket, from now on (closed by `close`).
   * `open` ends here; a benchmark hands in one end of a Unix datagram socketpair to measure the
   * reader on a machine without CAN (bench/can.ts).
   */
  attach(fd: number): void {
    this.sock = fd;
    this.startReader(fd);
  }

  /** An interface that exists but is down takes the bind and then carries nothing: say so at once. */
  private checkUp(channel: string): void {
    const flagsFile = `/sys/class/net/${channel}/flags`;
    if (!existsSync(flagsFile)) return; // no sysfs (a container without it): the first write will tell
    const flags = parseInt(readFileSync(flagsFile, "utf-8").trim(), 16);
    if (Number.isInteger(flags) && (flags & 1) === 0) throw new Error(`interface "${channel}" is down (ip link set up ${channel})`);
  }

  private startReader(fd: number): void {
    const stop = new SharedArrayBuffer(4);
    this.stopFlag = new Int32Array(stop);
    // one Blob URL per process, kept: the worker loads it asynchronously, so revoking it at once would fail the load
    readerUrl ??= URL.createObjectURL(new Blob([READER_SOURCE], { type: "application/javascript" }));
    const worker = new Worker(readerUrl);
    this.reader = worker;
    let exited!: () => void;
    this.readerExited = new Promise<void>((resolve) => (exited = resolve));
    worker.onmessage = (ev: MessageEvent) => {
      const m = ev.data as { frames?: ArrayBuffer; sizes?: ArrayBuffer; count?: number; ts?: number; error?: number; exited?: boolean };
      if (m.frames && m.sizes && m.count) this.deliver(new Uint8Array(m.frames), new Uint8Array(m.sizes), m.count, m.ts ?? Date.now());
      else if (m.error !== undefined) {
        if (this.sock === fd) this.events.failed(sysError(libc(), `reading ${this.opts.channel}`, m.error, this.opts.channel));
      } else if (m.exited) exited();
    };
    worker.onerror = (ev: ErrorEvent) => {
      exited();
      if (this.sock === fd) this.events.failed(new Error(`the SocketCAN reader thread failed: ${ev.message || "unknown error"}`));
    };
    worker.postMessage({ fd, stop });
  }

  private deliver(frames: Uint8Array, sizes: Uint8Array, count: number, ts: number): void {
    for (let i = 0; i < count; i++) {
      if (this.sock === undefined) return; // closed meanwhile: nothing more is handed on
      const d = decodeFrame(frames.subarray(i * CANFD_MTU, i * CANFD_MTU + sizes[i]!));
      if (d.kind === "frame") this.events.frame(d.frame, ts);
      else this.notes.note(d.kind === "error" ? d.text : d.why);
    }
  }

  async send(frame: CanFrame): Promise<void> {
    const fd = this.sock;
    if (fd === undefined) throw new Error(`${this.label} is not open`);
    if (frame.fd && !this.opts.fd) throw new Error(`frame ${frame.id} is CAN FD (isFd) but the bus was not opened for CAN FD: set "backend": {"fd": true}`);
    const bytes = encodeSocketFrame(frame);
    const lc = libc();
    const n = Number(lc.s.write(fd, ptr(bytes), bytes.length));
    if (n === bytes.length) return;
    if (n >= 0) throw new Error(`${this.label}: only ${n} of ${bytes.length} bytes of frame ${frame.id} written`);
    const errno = lc.errno();
    if (errno === 22 && frame.fd) throw new Error(`writing frame ${frame.id} failed: EINVAL: interface "${this.opts.channel}" does not take CAN FD frames (its MTU is not 72: ip link set ${this.opts.channel} mtu 72)`);
    throw sysError(lc, `writing frame ${frame.id} to ${this.opts.channel}`, errno, this.opts.channel);
  }

  async close(): Promise<void> {
    const fd = this.sock;
    this.sock = undefined;
    if (fd === undefined) return;
    const worker = this.reader;
    this.reader = undefined;
    if (this.stopFlag) Atomics.store(this.stopFlag, 0, 1);
    // the fd is closed only once the reader is out of poll/read, so its number is never read after reuse
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      this.readerExited?.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), READER_EXIT_WAIT_MS))),
    ]);
    clearTimeout(timer);
    // out of its loop, its event loop would still keep the thread; after a timeout it is stuck in a call
    if (timedOut) this.events.note("the SocketCAN reader thread did not stop in time; ended");
    worker?.terminate();
    libc().s.close(fd);
  }
}
