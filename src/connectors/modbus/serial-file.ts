// Serial port as the OS device file: line settings applied with `stty` (termios), bytes read through
// Bun's non-blocking file stream. Pure JS, so it works under `bun` and in the compiled binary, where
// the `serialport` native addon aborts. Linux/macOS only (needs `stty` on PATH).

import { spawnSync } from "node:child_process";
import { closeSync, constants, openSync, writeSync } from "node:fs";
import type { ByteStream } from "./framed-port.ts";
import { TtyWake } from "./tty-wake.ts";

export interface SerialOptions {
  baudrate: number;
  bytesize: number;
  parity: "N" | "E" | "O";
  stopbits: number;
}

export function sttyArgs(path: string, o: SerialOptions): string[] {
  const flag = process.platform === "darwin" ? "-f" : "-F";
  return [
    flag, path, String(o.baudrate), `cs${o.bytesize}`,
    o.parity === "N" ? "-parenb" : "parenb", o.parity === "O" ? "parodd" : "-parodd",
    o.stopbits === 2 ? "cstopb" : "-cstopb",
    "raw", "-echo", "clocal", "cread", "-crtscts", "-ixon", "-ixoff", "min", "1", "time", "0",
    // With parity on, check it on input (after `raw`, which clears it): a character with a parity
    // error then reaches us as NUL and fails the frame's CRC/LRC instead of passing as data.
    ...(o.parity === "N" ? [] : ["inpck"]),
  ];
}

export class SerialFileStream implements ByteStream {
  private fd?: number;
  private wake?: TtyWake;
  private reader?: { cancel(): Promise<void> };
  private dataCb: (d: Uint8Array) => void = () => {};
  private endCb: (e?: Error) => void = () => {};

  /** 3.5 characters of start, data, parity and stop bits at the line's baud rate. */
  readonly interFrameSilenceMs: number;

  constructor(
    readonly path: string,
    private readonly opts: SerialOptions,
  ) {
    const bitsPerChar = 1 + opts.bytesize + (opts.parity === "N" ? 0 : 1) + opts.stopbits;
    this.interFrameSilenceMs = (3.5 * bitsPerChar * 1000) / opts.baudrate;
  }

  async open(): Promise<void> {
    const r = spawnSync("stty", sttyArgs(this.path, this.opts), { encoding: "utf-8" });
    if (r.error) throw new Error(`cannot run stty for ${this.path}: ${r.error.message}`);
    // A pty (and some USB adapters) cannot take every setting (e.g. parity): stty then reports a
    // partial failure; the line still works with what was applied.
    const partial = /unable to perform all requested operations/.test(r.stderr || "");
    if (r.status !== 0 && !partial) throw new Error(`cannot configure ${this.path}: ${(r.stderr || "").trim() || `stty exit ${r.status}`}`);
    const fd = openSync(this.path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    this.fd = fd;
    this.wake = new TtyWake(fd);
    const reader = Bun.file(fd).stream().getReader();
    this.reader = reader;
    void this.pump(fd, reader);
  }

  private async pump(fd: number, reader: { read(): Promise<{ value?: Uint8Array; done: boolean }> }): Promise<void> {
    let err: Error | undefined;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (value?.length) this.dataCb(value);
      }
    } catch (e) {
      err = e instanceof Error ? e : new Error(String(e));
    }
    // Ended while still ours: the device went away (EIO on a vanished pty / unplugged adapter).
    if (this.fd === fd) {
      this.release();
      this.endCb(err ?? new Error(`${this.path} closed`));
    }
  }

  private unsent: Uint8Array[] = [];

  /**
   * Written at once with a direct write(2): a request is a few bytes and the device file's buffer is
   * empty between requests, so it goes in one call, without the thread-pool hop of an asynchronous
   * write (part of every request's turnaround). What the buffer cannot take yet (EAGAIN, partial
   * write) is kept in order and retried shortly.
   */
  write(data: Uint8Array): void {
    if (this.fd === undefined) return;
    if (this.unsent.length > 0) {
      this.unsent.push(data);
      return;
    }
    this.unsent.push(data);
    this.flush();
  }

  private flush(): void {
    const fd = this.fd;
    if (fd === undefined) {
      this.unsent = [];
      return;
    }
    while (this.unsent.length > 0) {
      const head = this.unsent[0]!;
      let n = 0;
      try {
        n = writeSync(fd, head);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") {
          this.unsent = [];
          this.endCb(e instanceof Error ? e : new Error(String(e)));
          return;
        }
      }
      if (n < head.length) {
        this.unsent[0] = head.subarray(n);
        setTimeout(() => this.flush(), 1);
        return;
      }
      this.unsent.shift();
    }
  }

  wakeAfter(n: number): void {
    if (this.fd !== undefined) this.wake?.after(n);
  }

  discardInput(): void {
    if (this.fd !== undefined) this.wake?.discardInput();
  }

  private release(): void {
    const fd = this.fd;
    this.fd = undefined;
    this.wake = undefined;
    this.unsent = []; // not for a reopened port
    const reader = this.reader;
    this.reader = undefined;
    reader?.cancel().catch(() => {});
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        /* already gone */
      }
    }
  }

  async close(): Promise<void> {
    this.release();
  }

  onData(cb: (d: Uint8Array) => void): void {
    this.dataCb = cb;
  }
  onEnd(cb: (e?: Error) => void): void {
    this.endCb = cb;
  }
}
