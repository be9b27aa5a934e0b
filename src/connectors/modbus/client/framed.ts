// Modbus RTU and ASCII: unit id + PDU + CRC frames through a FramedPort (which turns them into
// ASCII when asked and cuts the incoming bytes into response frames) over any byte stream: a
// serial device file, a TCP socket (RTU/ASCII over TCP) or the in-process slave. There is no
// transaction id on a serial line: an answer is taken when it comes from the unit asked, with the
// function code asked (or its exception); anything else on the line is ignored.

import { crc16, type FramedPort } from "../framed-port.ts";
import { ModbusClient, type Pending } from "./client.ts";

export class FramedClient extends ModbusClient {
  protected readonly header = 1;
  protected readonly trailer = 2;
  private lastError?: Error;

  constructor(
    private readonly port: FramedPort,
    timeoutMs: number,
  ) {
    super(timeoutMs);
    port.on("data", (frame: Buffer) => this.receive(frame));
    port.on("error", (e: Error) => (this.lastError = e));
    port.on("close", () => this.lost(this.lastError));
  }

  get isOpen(): boolean {
    return this.port.isOpen;
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => this.port.open((err) => (err ? reject(err) : resolve())));
  }

  protected send(frame: Buffer, pduLength: number, p: Pending): void {
    frame[0] = p.unit;
    const crc = crc16(frame.subarray(0, 1 + pduLength));
    frame[1 + pduLength] = crc & 0xff;
    frame[2 + pduLength] = crc >> 8;
    this.port.write(frame);
  }

  private receive(frame: Buffer): void {
    const p = this.pending;
    if (!p || frame.length < 4 || frame[0] !== p.unit || (frame[1]! & 0x7f) !== p.req.fc) return;
    const end = frame.length - 2;
    const crc = crc16(frame.subarray(0, end));
    if (frame[end] !== (crc & 0xff) || frame[end + 1] !== crc >> 8) return this.fail(new Error(`response from unit ${p.unit} with a bad CRC`));
    this.answer(frame, 1, end);
  }

  protected shut(): Promise<void> {
    return new Promise((resolve) => this.port.close(() => resolve()));
  }
}
