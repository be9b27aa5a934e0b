// The CAN bus the connector reads and writes: an slcan adapter on a serial device (the Modbus
// connector's serial device file: stty + non-blocking reads, works in the compiled binary), or a
// Linux SocketCAN interface (socketcan.ts).

import { SerialFileStream } from "../modbus/serial-file.ts";
import { encodeFrame, LineSplitter, parseLine, SLCAN_BITRATES, type CanFrame } from "./slcan.ts";

export interface BusEvents {
  frame(frame: CanFrame, receivedTs: number): void;
  /** The bus failed or went away; it is closed and must be opened again. */
  failed(error: Error): void;
  /** Something worth a log line that does not end the bus (an adapter error reply, a bad line). */
  note(text: string): void;
}

export interface CanBus {
  /** What the bus is, for logs: "slcan /dev/ttyACM0". */
  readonly label: string;
  open(): Promise<void>;
  send(frame: CanFrame): Promise<void>;
  close(): Promise<void>;
}

export interface SlcanOptions {
  /** Serial device, optionally "path@baud" (python-can's form). */
  channel: string;
  ttyBaudrate?: number;
  /** CAN bit rate to set (`Sn`); absent: the adapter keeps its own. */
  bitrate?: number;
}

/** Adapter replies (BEL), error frames and unreadable input logged at most this often, the others counted. */
const NOTE_EVERY_MS = 60_000;

/** Passes a bus's notes on at most once per NOTE_EVERY_MS, saying how many it held back since the last one. */
export class NoteLimiter {
  private lastNote = 0;
  private held = 0;

  constructor(
    private readonly events: Pick<BusEvents, "note">,
    private readonly clock: () => number = Date.now,
  ) {}

  note(text: string): void {
    const now = this.clock();
    if (now - this.lastNote < NOTE_EVERY_MS) {
      this.held++;
      return;
    }
    const held = this.held;
    this.held = 0;
    this.lastNote = now;
    this.events.note(held > 0 ? `${text} (and ${held} more such line(s) since the last report)` : text);
  }
}

export class SlcanBus implements CanBus {
  readonly label: string;
  private stream?: SerialFileStream;
  private readonly path: string;
  private readonly baud: number;
  private readonly notes: NoteLimiter;

  constructor(
    private readonly opts: SlcanOptions,
    private readonly events: BusEvents,
  ) {
    const at = opts.channel.lastIndexOf("@");
    this.path = at > 0 ? opts.channel.slice(0, at) : opts.channel;
    this.baud = at > 0 && /^\d+$/.test(opts.channel.slice(at + 1)) ? Number(opts.channel.slice(at + 1)) : (opts.ttyBaudrate ?? 115200);
    this.label = `slcan ${this.path}`;
    this.notes = new NoteLimiter(events);
  }

  async open(): Promise<void> {
    const stream = new SerialFileStream(this.path, { baudrate: this.baud, bytesize: 8, parity: "N", stopbits: 1 });
    const lines = new LineSplitter((text, bell) => this.line(text, bell));
    stream.onData((d) => lines.push(d));
    stream.onEnd((e) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.events.failed(e ?? new Error(`${this.path} closed`));
    });
    await stream.open();
    this.stream = stream;
    // Close the channel (it may be open from an earlier run), set the bit rate, open it.
    let setup = "C\r";
    if (this.opts.bitrate !== undefined) setup += `${SLCAN_BITRATES[String(this.opts.bitrate)]}\r`;
    setup += "O\r";
    stream.write(Buffer.from(setup, "latin1"));
  }

  private line(text: string, bell: boolean): void {
    const receivedTs = Date.now();
    const l = parseLine(text, bell);
    if (l.kind === "frame") this.events.frame(l.frame, receivedTs);
    else if (l.kind === "error") this.notes.note("the adapter answered a command with an error (BEL)");
    else if (l.kind === "bad") this.notes.note(`unreadable slcan line "${text.slice(0, 40)}": ${l.why}`);
    // "ok" (CR), "z"/"Z" (frame sent) and a host's commands (another slcan host on a pty) need nothing
  }

  async send(frame: CanFrame): Promise<void> {
    const stream = this.stream;
    if (!stream) throw new Error(`${this.label} is not open`);
    stream.write(Buffer.from(encodeFrame(frame), "latin1"));
  }

  async close(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    if (!stream) return;
    stream.write(Buffer.from("C\r", "latin1"));
    await stream.close();
  }
}
