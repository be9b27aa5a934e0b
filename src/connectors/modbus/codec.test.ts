// Unit tests of the pure codec: 64-bit integers beyond 2^53 stay exact; bits read from registers.
import { describe, expect, test } from "bun:test";
import { exactJson } from "../../core/records.ts";
import { decodeRegisters, encodeRegisters, postProcess } from "./codec.ts";

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
