// A port (open/close/write/isOpen and "data"/"close"/"error" events; the shape modbus-serial's
// client wanted, kept for our own, client/framed.ts) carrying RTU or ASCII frames over any byte
// stream: the OS serial device file (serial-file.ts), a TCP socket or the in-process slave. (The
// `serialport` native addon aborts Bun (uv_poll_init), so serial lines go through the device file.)
// Incoming bytes are cut into whole response frames using the function code of the last request.

import { EventEmitter } from "node:events";
import { connect, type Socket } from "node:net";

export interface ByteStream {
  open(): Promise<void>;
  write(data: Uint8Array): void;
  close(): Promise<void>;
  onData(cb: (data: Uint8Array) => void): void;
  /** Called once when the stream ends on its own (device removed, peer closed). */
  onEnd(cb: (err?: Error) => void): void;
  /**
   * Silence (ms) a real line needs between frames (RTU's 3.5 characters); absent where there is
   * no line timing (TCP, in-process).
   */
  readonly interFrameSilenceMs?: number;
  /** Wake the reader only once `n` bytes are waiting (a hint: fewer wake-ups on a serial port). */
  wakeAfter?(n: number): void;
  /** Drop input received but not read yet. */
  discardInput?(): void;
}

/** The shortest RTU answer (an exception: unit, function | 0x80, code, CRC). */
const SHORTEST_RTU_ANSWER = 5;

/** Longest inter-frame wait done by blocking the thread (precise to ~0.1 ms); longer ones use a timer. */
const BLOCKING_WAIT_MAX_MS = 1;
const waitCell = new Int32Array(new SharedArrayBuffer(4));

export type Framing = "rtu" | "ascii";

export function crc16(buf: Uint8Array): number {
  let crc = 0xffff;
  for (const b of buf) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >> 1) ^ 0xa001 : crc >> 1;
  }
  return crc;
}

export function lrc(buf: Uint8Array): number {
  let sum = 0;
  for (const b of buf) sum = (sum + b) & 0xff;
  return (-sum) & 0xff;
}

/** Length of the RTU response at the head of `buf`, or 0 if not yet known. */
export function rtuResponseLength(buf: Uint8Array): number {
  if (buf.length < 3) return 0;
  const fc = buf[1]!;
  if (fc & 0x80) return 5;
  if (fc >= 1 && fc <= 4) return 5 + buf[2]!;
  if (fc === 5 || fc === 6 || fc === 15 || fc === 16) return 8;
  return buf.length; // unknown function: hand over what we have
}

export class FramedPort extends EventEmitter {
  isOpen = false;
  _transactionIdRead = 1;
  _transactionIdWrite = 1;
  private buf = Buffer.alloc(0);
  private echoToSkip = 0;
  /** When the last byte from the line arrived (performance.now()), for the inter-frame silence. */
  private lastReceivedAt = -Infinity;

  constructor(
    private readonly stream: ByteStream,
    private readonly framing: Framing,
    private readonly handleLocalEcho = false,
  ) {
    super();
    stream.onData((d) => this.receive(d));
    stream.onEnd((err) => {
      const was = this.isOpen;
      this.isOpen = false;
      if (err && this.listenerCount("error") > 0) this.emit("error", err);
      if (was) this.emit("close");
    });
  }

  open(cb: (err?: Error | null) => void): void {
    this.stream.open().then(
      () => {
        this.isOpen = true;
        cb(null);
      },
      (e: Error) => cb(e),
    );
  }

  close(cb?: (err?: Error | null) => void): void {
    const was = this.isOpen;
    this.isOpen = false;
    this.stream.close().finally(() => {
      if (was) this.emit("close");
      cb?.(null);
    });
  }

  destroy(): void {
    this.close();
  }

  /**
   * `frame` is a complete RTU frame (with CRC) from the client. On a serial line it goes out only
   * after the line has been silent for 3.5 characters since the last byte received (RTU's frame
   * separation: a slave that has just answered may take a request that follows sooner as part of
   * its own frame, or drop it). The gateway is usually ready sooner than that (~0.15–0.2 ms after an
   * answer at 115200 baud, where 3.5 characters are 0.30–0.33 ms), so the rest is waited: up to 1 ms
   * by blocking the thread (a timer cannot wait less than ~1 ms here, which would cost a fast line
   * a quarter of its reads), longer (slow lines) with a timer.
   */
  write(frame: Buffer): void {
    this.buf = Buffer.alloc(0);
    let out: Uint8Array = frame;
    if (this.framing === "ascii") {
      const body = frame.subarray(0, frame.length - 2);
      const hex = Buffer.from([...body, lrc(body)]).toString("hex").toUpperCase();
      out = Buffer.from(`:${hex}\r\n`, "latin1");
    }
    const silence = this.framing === "rtu" ? (this.stream.interFrameSilenceMs ?? 0) : 0;
    const wait = silence - (performance.now() - this.lastReceivedAt);
    if (wait <= 0) return this.send(out);
    if (wait <= BLOCKING_WAIT_MAX_MS) {
      Atomics.wait(waitCell, 0, 0, wait);
      return this.send(out);
    }
    setTimeout(() => this.isOpen && this.send(out), Math.ceil(wait)); // whole ms: a fraction is cut off, firing early
  }

  private send(out: Uint8Array): void {
    this.echoToSkip = this.handleLocalEcho ? out.length : 0;
    if (this.framing === "rtu") {
      // Whatever is still unread belongs to an earlier exchange (a late or broken answer); the
      // reader is woken first when the shortest possible answer is in (see wakeForRest).
      this.stream.discardInput?.();
      this.stream.wakeAfter?.(this.echoToSkip + SHORTEST_RTU_ANSWER);
    }
    this.stream.write(out);
  }

  /** Once the answer's length is known, wake the reader only when all of it can be there. */
  private wakeForRest(): void {
    if (!this.stream.wakeAfter || this.buf.length === 0) return;
    const len = rtuResponseLength(this.buf);
    this.stream.wakeAfter(this.echoToSkip + Math.max(1, (len || SHORTEST_RTU_ANSWER) - this.buf.length));
  }

  private receive(d: Uint8Array): void {
    this.lastReceivedAt = performance.now();
    let data = Buffer.from(d);
    if (this.echoToSkip > 0) {
      const skip = Math.min(this.echoToSkip, data.length);
      this.echoToSkip -= skip;
      data = data.subarray(skip);
    }
    this.buf = Buffer.concat([this.buf, data]);
    if (this.framing === "ascii") this.cutAscii();
    else {
      this.cutRtu();
      this.wakeForRest();
    }
  }

  private cutRtu(): void {
    const len = rtuResponseLength(this.buf);
    if (len === 0 || this.buf.length < len) return;
    const frame = this.buf.subarray(0, len);
    this.buf = Buffer.from(this.buf.subarray(len));
    this.emit("data", frame);
  }

  private cutAscii(): void {
    const start = this.buf.indexOf(0x3a); // ':'
    const end = this.buf.indexOf("\r\n", start);
    if (start < 0 || end < 0) return;
    const hex = this.buf.subarray(start + 1, end).toString("latin1");
    this.buf = Buffer.from(this.buf.subarray(end + 2));
    const bytes = Buffer.from(hex, "hex");
    if (bytes.length < 3 || lrc(bytes.subarray(0, bytes.length - 1)) !== bytes[bytes.length - 1]) return; // bad LRC: let it time out
    const body = bytes.subarray(0, bytes.length - 1);
    const crc = crc16(body);
    // the client checks an RTU CRC on every response; give it one.
    this.emit("data", Buffer.concat([body, Buffer.from([crc & 0xff, crc >> 8])]));
  }
}

/** TCP socket as a byte stream (RTU or ASCII framing over TCP). */
export class SocketStream implements ByteStream {
  private sock?: Socket;
  private dataCb: (d: Uint8Array) => void = () => {};
  private endCb: (e?: Error) => void = () => {};
  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs: number,
  ) {}
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.host, port: this.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${this.host}:${this.port} timed out`));
      }, this.timeoutMs);
      s.once("connect", () => {
        clearTimeout(timer);
        s.setNoDelay(true);
        this.sock = s;
        s.on("data", (d: Buffer) => this.dataCb(d));
        s.on("close", () => this.sock === s && this.endCb());
        resolve();
      });
      s.once("error", (e) => {
        clearTimeout(timer);
        if (this.sock === s) this.endCb(e);
        else reject(e);
      });
    });
  }
  write(data: Uint8Array): void {
    this.sock?.write(data);
  }
  async close(): Promise<void> {
    const s = this.sock;
    this.sock = undefined;
    s?.destroy();
  }
  onData(cb: (d: Uint8Array) => void): void {
    this.dataCb = cb;
  }
  onEnd(cb: (e?: Error) => void): void {
    this.endCb = cb;
  }
}
