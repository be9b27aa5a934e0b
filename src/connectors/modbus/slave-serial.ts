// Slave (server) mode over a serial line, RTU or ASCII framing, on our own serial transport
// (serial-file.ts; modbus-serial's ServerSerial needs the `serialport` addon, which aborts Bun).
// Requests are cut out of the byte stream by function code length and CRC/LRC; a frame that fails its
// check is dropped byte by byte until a valid frame starts (RTU resynchronisation), and whatever is
// left when the line goes silent is discarded. Like upstream's "single" server context, every unit id
// is answered; unit 0 is a broadcast: writes are applied and nothing is sent back.
// Also here: the in-process stream the gateway polls its own serial slave through (the device file
// is the external master's, so the gateway cannot poll over it).

import { errorText, type Logger } from "../../observe/logger.ts";
import { crc16, lrc, type ByteStream, type Framing } from "./framed-port.ts";
import { answerPdu, type PduWrite } from "./slave-pdu.ts";
import type { RegisterStore } from "./slave-store.ts";

export interface RequestFrame {
  unit: number;
  pdu: Uint8Array;
}

function crcOk(frame: Uint8Array): boolean {
  if (frame.length < 4) return false;
  const crc = crc16(frame.subarray(0, frame.length - 2));
  return frame[frame.length - 2] === (crc & 0xff) && frame[frame.length - 1] === crc >> 8;
}

/** RTU request length at the head of `buf`: 0 = need more bytes; -1 = unknown function (ends at silence). */
export function rtuRequestLength(buf: Uint8Array): number {
  if (buf.length < 2) return 0;
  const fc = buf[1]!;
  if (fc >= 1 && fc <= 6) return 8;
  if (fc === 15 || fc === 16) return buf.length < 7 ? 0 : 9 + buf[6]!;
  if (fc === 43) return 7;
  return -1;
}

export function rtuFrame(unit: number, pdu: Uint8Array): Uint8Array {
  const body = Uint8Array.of(unit, ...pdu);
  const crc = crc16(body);
  return Uint8Array.of(...body, crc & 0xff, crc >> 8);
}

export function asciiFrame(unit: number, pdu: Uint8Array): Uint8Array {
  const body = Uint8Array.of(unit, ...pdu);
  return Buffer.from(`:${Buffer.from([...body, lrc(body)]).toString("hex").toUpperCase()}\r\n`, "latin1");
}

/** Cuts RTU requests out of a byte stream; `gapMs` of silence ends (and discards) a partial frame. */
export class RtuRequestReader {
  private buf = Buffer.alloc(0);
  private timer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly gapMs: number,
    private readonly onFrame: (f: RequestFrame) => void,
    private readonly onDiscard: (bytes: number) => void,
  ) {}

  push(chunk: Uint8Array): void {
    clearTimeout(this.timer);
    this.buf = Buffer.concat([this.buf, chunk]);
    this.parse(false);
    if (this.buf.length) this.timer = setTimeout(() => this.parse(true), this.gapMs);
  }

  private parse(silent: boolean): void {
    let dropped = 0;
    while (this.buf.length) {
      const len = rtuRequestLength(this.buf);
      if (len === -1 && silent && crcOk(this.buf)) {
        this.emit(this.buf.length); // an unknown function code: answered with ILLEGAL FUNCTION
        continue;
      }
      if (len > 0 && this.buf.length >= len && crcOk(this.buf.subarray(0, len))) {
        this.emit(len);
        continue;
      }
      if (!silent && (len === -1 || len === 0 || this.buf.length < len)) break; // wait for more, or for silence
      this.buf = this.buf.subarray(1);
      dropped++;
    }
    if (dropped) this.onDiscard(dropped);
  }

  private emit(len: number): void {
    const frame = this.buf.subarray(0, len);
    this.buf = this.buf.subarray(len);
    this.onFrame({ unit: frame[0]!, pdu: Uint8Array.from(frame.subarray(1, len - 2)) });
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

/** Cuts ASCII requests (`:` hex LRC CR LF) out of a byte stream; a bad LRC or bad hex drops the frame. */
export class AsciiRequestReader {
  private buf = "";
  constructor(
    private readonly onFrame: (f: RequestFrame) => void,
    private readonly onDiscard: (bytes: number) => void,
  ) {}

  push(chunk: Uint8Array): void {
    this.buf += Buffer.from(chunk).toString("latin1");
    for (;;) {
      const start = this.buf.indexOf(":");
      if (start < 0) {
        if (this.buf.length) this.onDiscard(this.buf.length);
        this.buf = "";
        return;
      }
      const end = this.buf.indexOf("\r\n", start);
      if (end < 0) {
        this.buf = this.buf.slice(start);
        return;
      }
      const hex = this.buf.slice(start + 1, end);
      this.buf = this.buf.slice(end + 2);
      const bytes = /^([0-9A-Fa-f]{2})+$/.test(hex) ? Buffer.from(hex, "hex") : undefined;
      if (!bytes || bytes.length < 3 || lrc(bytes.subarray(0, bytes.length - 1)) !== bytes[bytes.length - 1]) {
        this.onDiscard(hex.length + 3);
        continue;
      }
      this.onFrame({ unit: bytes[0]!, pdu: Uint8Array.from(bytes.subarray(1, bytes.length - 1)) });
    }
  }

  stop(): void {}
}

export interface SerialSlaveOptions {
  framing: Framing;
  baudrate: number;
  handleLocalEcho: boolean;
  /** what to call the line in logs (device path) */
  name: string;
  /** called after a client write is applied to the store */
  onWrite?: (w: PduWrite) => void;
}

/** Serves the store on a serial byte stream; reopens the device when it vanishes and comes back. */
export class SerialSlaveServer {
  private reader: RtuRequestReader | AsciiRequestReader;
  private echoToSkip = 0;
  private closed = false;
  private retry?: ReturnType<typeof setTimeout>;
  private lostLogged = false;
  requests = 0;

  constructor(
    private readonly stream: ByteStream,
    private readonly store: RegisterStore,
    private readonly opts: SerialSlaveOptions,
    private readonly log: Logger,
  ) {
    const onDiscard = (n: number) => log.debug(`modbus slave ${opts.name}: dropped ${n} byte(s) that were not a valid request`);
    // 3.5 character times per the RTU spec, but never below what OS/USB buffering can split a frame into.
    const gapMs = Math.max(30, Math.ceil((3.5 * 11 * 1000) / opts.baudrate));
    this.reader = opts.framing === "ascii"
      ? new AsciiRequestReader((f) => this.handle(f), onDiscard)
      : new RtuRequestReader(gapMs, (f) => this.handle(f), onDiscard);
    stream.onData((d) => this.receive(d));
    stream.onEnd((err) => {
      if (this.closed) return;
      log.warn(`modbus slave ${opts.name}: serial line lost (${err?.message ?? "closed"}); reopening`);
      this.scheduleOpen();
    });
  }

  /** Opens the line; if it is not there yet, keeps trying every second (logged once). */
  async open(): Promise<void> {
    try {
      await this.stream.open();
      this.lostLogged = false;
      this.log.info(`modbus slave serving on ${this.opts.name} (${this.opts.framing.toUpperCase()}, ${this.opts.baudrate} baud)`);
    } catch (e) {
      if (!this.lostLogged) this.log.error(`modbus slave ${this.opts.name}: cannot open: ${errorText(e)}; retrying every second`);
      this.lostLogged = true;
      this.scheduleOpen();
    }
  }

  private scheduleOpen(): void {
    if (this.closed) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.open(), 1000);
  }

  private receive(d: Uint8Array): void {
    if (this.echoToSkip > 0) {
      const skip = Math.min(this.echoToSkip, d.length);
      this.echoToSkip -= skip;
      d = d.subarray(skip);
      if (!d.length) return;
    }
    this.reader.push(d);
  }

  private handle(f: RequestFrame): void {
    this.requests++;
    const { response, write } = answerPdu(this.store, f.pdu);
    if (write) this.opts.onWrite?.(write);
    if (f.unit === 0) return; // broadcast: no answer
    const out = this.opts.framing === "ascii" ? asciiFrame(f.unit, response) : rtuFrame(f.unit, response);
    if (this.opts.handleLocalEcho) this.echoToSkip = out.length;
    this.stream.write(out);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.reader.stop();
    await this.stream.close();
  }
}

/**
 * An in-process byte stream into the store: takes complete RTU frames (as our client writes them
 * through FramedPort) and answers them, so the gateway polls its own serial slave without a wire.
 */
export class StoreLoopbackStream implements ByteStream {
  private dataCb: (d: Uint8Array) => void = () => {};
  private open_ = false;
  constructor(private readonly store: RegisterStore) {}
  async open(): Promise<void> {
    this.open_ = true;
  }
  write(frame: Uint8Array): void {
    if (!this.open_ || !crcOk(frame)) return;
    const { response } = answerPdu(this.store, frame.subarray(1, frame.length - 2));
    const out = rtuFrame(frame[0]!, response);
    // Answer asynchronously, as a wire would: the client registers its pending request after write().
    setImmediate(() => this.open_ && this.dataCb(out));
  }
  async close(): Promise<void> {
    this.open_ = false;
  }
  onData(cb: (d: Uint8Array) => void): void {
    this.dataCb = cb;
  }
  onEnd(): void {}
}
