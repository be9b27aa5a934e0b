// Our Modbus master, in place of modbus-serial's client (issue #19: its request handling and one
// heavy object per connection were a large part of the gateway's CPU and memory while polling).
// One request at a time per connection (ModbusLink serialises them), so there is a single pending
// slot, never a table: an answer that is not for it (late, after its timeout; another transaction
// id; another unit) is dropped. The transports (mbap.ts: TCP and UDP; framed.ts: RTU and ASCII over
// a FramedPort) frame the PDU and hand the response PDU back; everything else is here.

import { bitsOf, checkResponse, registersOf, requestLength, writeRequest, type PduRequest } from "./pdu.ts";

export interface Pending {
  req: PduRequest;
  unit: number;
  /** MBAP transaction id (0 for RTU/ASCII) */
  tid: number;
  resolve: (value: never) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export abstract class ModbusClient {
  /** Unit id of the next request (set by ModbusLink before each one). */
  unitId = 1;
  /** The connection ended on its own (peer closed it, device gone); not called after close(). */
  onClose: (err?: Error) => void = () => {};
  protected pending?: Pending;
  private closing = false;

  constructor(protected readonly timeoutMs: number) {}

  /** Bytes of the frame before the PDU (MBAP header, RTU unit id) and after it (CRC). */
  protected abstract readonly header: number;
  protected abstract readonly trailer: number;
  abstract get isOpen(): boolean;
  abstract open(): Promise<void>;
  /** Fill in the frame's header/trailer for `p` (the PDU is in place) and put it on the wire. */
  protected abstract send(frame: Buffer, pduLength: number, p: Pending): void;
  /** Release the connection at once (no waiting for the peer). */
  protected abstract shut(): Promise<void>;

  readRegisters(fc: 3 | 4, address: number, count: number): Promise<number[]> {
    return this.execute({ fc, address, count });
  }
  readBits(fc: 1 | 2, address: number, count: number): Promise<boolean[]> {
    return this.execute({ fc, address, count });
  }
  writeCoil(address: number, value: boolean): Promise<void> {
    return this.execute({ fc: 5, address, count: 1, value: value ? 1 : 0 });
  }
  writeRegister(address: number, value: number): Promise<void> {
    return this.execute({ fc: 6, address, count: 1, value });
  }
  writeCoils(address: number, values: ArrayLike<boolean>): Promise<void> {
    return this.execute({ fc: 15, address, count: values.length, values });
  }
  writeRegisters(address: number, values: ArrayLike<number>): Promise<void> {
    return this.execute({ fc: 16, address, count: values.length, values });
  }

  protected execute<T>(req: PduRequest): Promise<T> {
    if (this.pending) return Promise.reject(new Error("a request is already in flight on this connection"));
    if (!this.isOpen) return Promise.reject(new Error("not connected"));
    const length = requestLength(req);
    const frame = Buffer.allocUnsafe(this.header + length + this.trailer);
    writeRequest(frame, this.header, req);
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { req, unit: this.unitId, tid: 0, resolve: resolve as (v: never) => void, reject, timer: setTimeout(this.timedOut, this.timeoutMs) };
      this.pending = p;
      try {
        this.send(frame, length, p);
      } catch (e) {
        this.fail(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  private readonly timedOut = (): void => {
    const p = this.pending;
    if (p) this.fail(new Error(`no answer from unit ${p.unit} to function code ${p.req.fc} within ${this.timeoutMs} ms`));
  };

  /** The transport found the response PDU `buf[at..end)` for the pending request. */
  protected answer(buf: Uint8Array, at: number, end: number): void {
    const p = this.pending!;
    this.pending = undefined;
    clearTimeout(p.timer);
    const { fc, count } = p.req;
    try {
      checkResponse(p.req, buf, at, end);
    } catch (e) {
      return p.reject(e as Error);
    }
    if (fc === 3 || fc === 4) p.resolve(registersOf(buf, at, count) as never);
    else if (fc === 1 || fc === 2) p.resolve(bitsOf(buf, at, count) as never);
    else p.resolve(undefined as never);
  }

  /** Fail the pending request (timeout, closed connection, garbled frame). */
  protected fail(err: Error): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.reject(err);
  }

  /** The transport's connection ended by itself. */
  protected lost(err?: Error): void {
    if (this.closing) return;
    this.fail(new Error(`connection lost${err ? `: ${err.message}` : ""}`));
    this.onClose(err);
  }

  /** Close now; a request in flight fails with `reason`. */
  async close(reason = new Error("connection closed")): Promise<void> {
    this.closing = true;
    this.fail(reason);
    await this.shut();
  }
}
