// Unit tests of the pure codec: 64-bit integers beyond 2^53 stay exact; bits read from registers.
import { describe, expect, test } from "bun:test";
import { exactJson } from "../../core/records.ts";
import { decodeNumberAt, decodeRegisters, encodeRegisters, postProcess, registerBits, type CanonicalType, type Order } from "./codec.ts";

describe("64-bit integers", () => {
  const cases: Array<["64int" | "64uint", bigint]> = [
    ["64int", -1234567890123456789n],
    ["64int", -(2n ** 63n)],
    ["64int", 2n ** 53n + 1n],
    ["64uint", 2n ** 64n - 1n],
    ["64uint", 9007199254740993n],
  ];
  for (const [type, v] of cases)
    test(`${type} ${v} decodes to the exact integer and is written as a JSON integer literal`, () => {
      const regs = encodeRegisters(v, type, "BIG", "LITTLE");
      const got = decodeRegisters(regs, type, "BIG", "LITTLE");
      expect(got).toBe(v);
      expect(exactJson({ k: postProcess(got, type, { functionCode: 3 }) })).toBe(`{"k":${v}}`);
    });

  test("values a double holds exactly stay plain numbers", () => {
    for (const v of [0n, -1n, 2n ** 53n - 1n, -(2n ** 53n - 1n)]) {
      const got = decodeRegisters(encodeRegisters(v, "64int", "BIG", "BIG"), "64int", "BIG", "BIG");
      expect(typeof got).toBe("number");
      expect(got).toBe(Number(v));
    }
  });

  test("divider makes a double; an integer multiplier keeps the product exact", () => {
    const big = 2n ** 60n + 1n;
    expect(postProcess(big, "64int", { functionCode: 3, divider: 2 })).toBe(Number(big) / 2);
    expect(postProcess(big, "64int", { functionCode: 3, multiplier: 3 })).toBe(big * 3n);
    expect(postProcess(2 ** 52, "64int", { functionCode: 3, multiplier: 4 })).toBe(2n ** 54n);
    expect(postProcess(10, "64int", { functionCode: 3, multiplier: 4 })).toBe(40);
    expect(postProcess(big, "64int", { functionCode: 3, multiplier: 0.5 })).toBe(Number(big) * 0.5);
  });

  test("variants match on the decimal digits", () => {
    expect(postProcess(2n ** 63n - 1n, "64int", { functionCode: 3, variants: { "9223372036854775807": "max" } })).toBe("max");
  });
});

describe("bits read from registers (FC 3/4)", () => {
  // 0x8241: register bits 15, 9, 6 and 0 set. Upstream's order is bits 8..15, then 0..7.
  const REG = 0x8241;
  const ALL = [false, true, false, false, false, false, false, true, true, false, false, false, false, false, true, false];
  const read = (regs: number[], extra: Record<string, unknown> = {}) =>
    postProcess(decodeRegisters(regs, "bits", "BIG", "BIG"), "bits", { functionCode: 3, ...extra });

  test("objectsCount 16: the first register's 16 bits, high byte first, each byte from bit 0", () => {
    expect(registerBits([REG], 16)).toEqual(ALL);
    // 16 registers are read, only the first is decoded
    expect(read([REG, 0xffff, ...Array(14).fill(0x1234)])).toEqual(ALL);
  });

  test("objectsCount n keeps the last n of those bits; 1 is a single boolean (register bit 7)", () => {
    expect(read([REG, 0, 0, 0])).toEqual([false, false, true, false]); // register bits 4..7
    expect(read([REG])).toBe(false);
    expect(read([0x0080])).toBe(true);
    expect(read([0x0080], { bitTargetType: "int" })).toBe(1);
    expect(read([0xff7f])).toBe(false); // every bit but 7
    expect(registerBits([REG], 40)).toEqual(ALL); // never more than one register's 16
  });

  test("bit n indexes the kept list (clamped to its last item) and gives 0/1", () => {
    const regs16 = [REG, ...Array(15).fill(0)];
    expect(read(regs16, { bit: 0 })).toBe(0); // register bit 8
    expect(read(regs16, { bit: 1 })).toBe(1); // register bit 9
    expect(read(regs16, { bit: 7 })).toBe(1); // register bit 15
    expect(read(regs16, { bit: 8 })).toBe(1); // register bit 0
    expect(read(regs16, { bit: 14 })).toBe(1); // register bit 6
    expect(read(regs16, { bit: 99 })).toBe(0); // past the end → last item, register bit 7
    expect(read([0x0080], { bit: 0 })).toBe(1); // objectsCount 1: the only item is register bit 7
  });

  test("bitTargetType int gives a list of 0/1", () => {
    expect(read([REG, 0, 0, 0], { bitTargetType: "int" })).toEqual([0, 0, 1, 0]);
  });
});

describe("decodeNumberAt (the poll hot path)", () => {
  test("gives what decodeRegisters gives on the copied registers, for every numeric type and order", () => {
    const types: CanonicalType[] = ["16int", "16uint", "16float", "32int", "32uint", "32float", "64int", "64uint", "64float"];
    const orders: Order[] = ["BIG", "LITTLE"];
    // fixed pseudo-random registers (deterministic), with the extremes mixed in
    const regs = Array.from({ length: 40 }, (_, i) => (i % 7 === 0 ? 0xffff : i % 11 === 0 ? 0x8000 : (i * 40503 + 12345) & 0xffff));
    let checked = 0;
    for (const type of types)
      for (const byteOrder of orders)
        for (const wordOrder of orders)
          for (let offset = 0; offset + 4 <= regs.length; offset++) {
            const want = decodeRegisters(regs.slice(offset, offset + 4), type, byteOrder, wordOrder);
            const got = decodeNumberAt(regs, offset, 4, type, byteOrder, wordOrder);
            if (Number.isNaN(want)) expect(Number.isNaN(got)).toBe(true);
            else expect(got).toBe(want as number);
            checked++;
          }
    expect(checked).toBe(9 * 4 * 37);
  });

  test("too few registers, or a type it does not handle, leaves the key to decodeRegisters", () => {
    expect(decodeNumberAt([1], 0, 1, "32uint", "BIG", "BIG")).toBeUndefined();
    expect(decodeNumberAt([1, 2, 3], 0, 1, "32uint", "BIG", "BIG")).toBeUndefined();
    expect(decodeNumberAt([0x4142], 0, 1, "string", "BIG", "BIG")).toBeUndefined();
  });
});
