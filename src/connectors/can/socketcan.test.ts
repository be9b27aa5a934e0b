// SocketCAN without a CAN bus: the can_frame / canfd_frame codec against byte layouts written out by
// hand from <linux/can.h>, and the connector on a kernel without CAN (this machine: EAFNOSUPPORT) or
// without the interface (ENODEV): one error line naming the reason, retried, stopped cleanly.
// With a real kernel and vcan: socketcan.gateway.test.ts (a VM, test/vm.ts).

import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { recordingContext } from "../../../test/support/context.ts";
import { addLogSink, setStderrLogging, type LogRecord } from "../../observe/logger.ts";
import { CanConnector } from "./connector.ts";
import { CanConfigSchema } from "./schema.ts";
import { decodeFrame, encodeSocketFrame } from "./socketcan-frame.ts";

setStderrLogging(false);

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const bytes = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ""), "hex"));

describe("SocketCAN frame codec", () => {
  test("classic standard-id frame: can_id LE, len, three zero bytes, data padded to 8", () => {
    const b = encodeSocketFrame({ id: 0x123, extended: false, data: bytes("deadbeef") });
    expect(hex(b)).toBe("23010000" + "04000000" + "deadbeef00000000");
    expect(decodeFrame(b)).toEqual({ kind: "frame", frame: { id: 0x123, extended: false, data: bytes("deadbeef") } });
  });

  test("extended id carries CAN_EFF_FLAG (0x80000000)", () => {
    const b = encodeSocketFrame({ id: 1918, extended: true, data: bytes("0000bbbb0fa00000") });
    expect(hex(b)).toBe("7e070080" + "08000000" + "0000bbbb0fa00000");
    expect(decodeFrame(b)).toEqual({ kind: "frame", frame: { id: 1918, extended: true, data: bytes("0000bbbb0fa00000") } });
    // an extended id below 2048 stays extended
    expect(decodeFrame(encodeSocketFrame({ id: 5, extended: true, data: new Uint8Array(0) }))).toEqual({ kind: "frame", frame: { id: 5, extended: true, data: new Uint8Array(0) } });
  });

  test("remote frames: CAN_RTR_FLAG set, no data, decoded as remote", () => {
    const b = encodeSocketFrame({ id: 0x10, extended: false, data: new Uint8Array(2), remote: true });
    expect(hex(b)).toBe("10000040" + "02000000" + "0000000000000000");
    expect(decodeFrame(b)).toEqual({ kind: "frame", frame: { id: 0x10, extended: false, data: new Uint8Array(0), remote: true } });
  });

  test("CAN FD frame: 72 bytes, flags FDF (and BRS), data padded to the next FD length", () => {
    const b = encodeSocketFrame({ id: 0x1abcdef, extended: true, fd: true, brs: true, data: bytes("01".repeat(9)) });
    expect(b.length).toBe(72);
    expect(hex(b.subarray(0, 8))).toBe("efcdab81" + "0c" + "05" + "0000");
    expect(hex(b.subarray(8, 20))).toBe("01".repeat(9) + "000000");
    expect(decodeFrame(b)).toEqual({ kind: "frame", frame: { id: 0x1abcdef, extended: true, fd: true, brs: true, data: bytes("01".repeat(9) + "000000") } });
    const noBrs = encodeSocketFrame({ id: 7, extended: false, fd: true, data: bytes("aa") });
    expect(noBrs[5]).toBe(0x04);
    expect(decodeFrame(noBrs)).toEqual({ kind: "frame", frame: { id: 7, extended: false, fd: true, data: bytes("aa") } });
  });

  test("a frame read as a canfd_frame from a kernel that leaves flags 0 is still FD (the size says so)", () => {
    const b = new Uint8Array(72);
    b.set(bytes("21000000" + "03000000" + "010203"));
    expect(decodeFrame(b)).toEqual({ kind: "frame", frame: { id: 0x21, extended: false, fd: true, data: bytes("010203") } });
  });

  test("error frames: CAN_ERR_FLAG, classes named", () => {
    const b = bytes("40000020" + "08000000" + "0000000000000000"); // bus off
    expect(decodeFrame(b)).toEqual({ kind: "error", text: "error frame from the CAN controller: bus off (data 0000000000000000)" });
    const b2 = bytes("24000020" + "08000000" + "0004000000000000"); // controller problem + no ACK
    expect(decodeFrame(b2)).toEqual({ kind: "error", text: "error frame from the CAN controller: controller problem, no ACK on transmission (data 0004000000000000)" });
  });

  test("bad sizes and lengths are reported, not decoded", () => {
    expect(decodeFrame(new Uint8Array(20)).kind).toBe("bad");
    expect(decodeFrame(bytes("01000000" + "09000000" + "0000000000000000"))).toEqual({ kind: "bad", why: "frame 1 announces 9 data bytes, more than a CAN frame holds" });
  });

  test("encoding refuses what does not fit", () => {
    expect(() => encodeSocketFrame({ id: 0x800, extended: false, data: new Uint8Array(0) })).toThrow("does not fit in 11 bits");
    expect(() => encodeSocketFrame({ id: 0x20000000, extended: true, data: new Uint8Array(0) })).toThrow("does not fit in 29 bits");
    expect(() => encodeSocketFrame({ id: 1, extended: false, data: new Uint8Array(9) })).toThrow("set isFd for CAN FD");
    expect(() => encodeSocketFrame({ id: 1, extended: false, fd: true, data: new Uint8Array(65) })).toThrow("at most 64");
  });
});

describe("SocketCAN on a kernel without CAN or without the interface", () => {
  test("opening fails with the reason, logged once across retries; RPC says the bus is not open; stop is clean", async () => {
    const logs: LogRecord[] = [];
    const off = addLogSink((r) => logs.push(r));
    const ctx = recordingContext({ type: "can" });
    const c = new CanConnector(CanConfigSchema.parse({ interface: "socketcan", channel: "tbgwnone0", reconnectPeriod: 0.05, devices: [{ name: "D", serverSideRpc: [{ method: "m", nodeId: 1 }] }] }), ctx);
    try {
      await c.start();
      const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
      expect(errors.length).toBe(1);
      // /proc/net/can exists once the kernel has the CAN protocol family loaded
      if (existsSync("/proc/net/can")) expect(errors[0]).toContain('failed: if_nametoindex("tbgwnone0") failed: ENODEV');
      else expect(errors[0]).toStartWith("CAN bus socketcan tbgwnone0 failed: socket(PF_CAN, SOCK_RAW, CAN_RAW) failed: EAFNOSUPPORT (Address family not supported by protocol): this kernel has no SocketCAN (load the can and can-raw modules: modprobe can-raw); opening it again every 0.05 s");
      expect(await c.onRpc({ device: "D", id: 1, method: "m", params: { value: 1 } })).toEqual({ success: false, error: "the CAN bus (socketcan tbgwnone0) is not open" });
      await new Promise((r) => setTimeout(r, 300)); // several retries: still one error line about the bus
      expect(logs.filter((l) => l.level === "ERROR" && l.message.startsWith("CAN bus")).length).toBe(1);
    } finally {
      await c.stop();
      off();
    }
  }, 10_000);

  test("an interface name that cannot be one is refused before any system call", async () => {
    const { SocketCanBus } = await import("./socketcan.ts");
    const bus = new SocketCanBus({ channel: "/dev/ttyACM0" }, { frame() {}, failed() {}, note() {} });
    expect(bus.open()).rejects.toThrow('"/dev/ttyACM0" is not a network interface name');
  });
});
