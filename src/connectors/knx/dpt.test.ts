// DPT codecs: payloads worked out by hand from the KNX datapoint definitions, both ways, and the
// type names of upstream's configs (xknx value types, DPT numbers, the sample's misspelling).

import { describe, expect, test } from "bun:test";
import { decodeDpt, encodeDpt, parseDpt, type Dpt } from "./dpt.ts";

const dpt = (name: string): Dpt => {
  const d = parseDpt(name);
  if (typeof d === "string") throw new Error(d);
  return d;
};
const hex = (name: string, value: unknown) => encodeDpt(dpt(name), value).data.toString("hex");
const dec = (name: string, h: string) => decodeDpt(dpt(name), Buffer.from(h, "hex"));

describe("KNX datapoint types", () => {
  test("names: xknx value types, DPT numbers, upstream's misspelled precent_U8", () => {
    expect(parseDpt("temperature")).toEqual({ main: 9, sub: 1 });
    expect(parseDpt("humidity")).toEqual({ main: 9, sub: 7 });
    expect(parseDpt("percentU8")).toEqual({ main: 5, sub: 4 });
    expect(parseDpt("precent_U8")).toEqual({ main: 5, sub: 4 });
    expect(parseDpt("string")).toEqual({ main: 16, sub: 0 });
    expect(parseDpt("9.001")).toEqual({ main: 9, sub: 1 });
    expect(parseDpt("DPT13.010")).toEqual({ main: 13, sub: 10 });
    expect(parseDpt("14")).toEqual({ main: 14, sub: undefined });
    expect(parseDpt("temprature")).toContain('unknown KNX datapoint type "temprature"');
    expect(parseDpt("10.001")).toContain("supported main numbers: 1, 5, 6, 7, 8, 9, 12, 13, 14, 16, 17");
  });

  test("DPT 1 is a JSON boolean both ways; true/false, 1/0 and on/off are written", () => {
    expect(dec("switch", "01")).toBe(true);
    expect(dec("switch", "00")).toBe(false);
    for (const v of [true, 1, "on", "true"]) expect(encodeDpt(dpt("switch"), v)).toEqual({ data: Buffer.from([1]), bits: 1 });
    for (const v of [false, 0, "off"]) expect(encodeDpt(dpt("switch"), v)).toEqual({ data: Buffer.from([0]), bits: 1 });
    expect(() => hex("switch", 2)).toThrow("DPT 1.001 needs true or false, got 2");
  });

  test("DPT 5: 5.001 and 5.003 scaled and rounded to integers, the others the byte", () => {
    expect(dec("percent", "80")).toBe(50);
    expect(dec("percent", "ff")).toBe(100);
    expect(hex("percent", 50)).toBe("80");
    expect(dec("angle", "80")).toBe(181);
    expect(dec("percentU8", "80")).toBe(128);
    expect(hex("percentU8", 255)).toBe("ff");
    expect(() => hex("percentU8", 256)).toThrow("256 is outside DPT 5.004's range 0..255");
    expect(() => hex("percent", 101)).toThrow("outside DPT 5.001's range 0..100");
  });

  test("DPT 7, 12, 13 and 6, 8: big-endian integers; scaled subtypes by their resolution", () => {
    expect(dec("brightness", "ffff")).toBe(65535);
    expect(hex("brightness", 1024)).toBe("0400");
    expect(dec("time_period_10msec", "0064")).toBe(1000);
    expect(dec("4byte_unsigned", "ffffffff")).toBe(4294967295);
    expect(dec("active_energy", "80000000")).toBe(-2147483648);
    expect(hex("active_energy", -1000)).toBe("fffffc18");
    expect(dec("1byte_signed", "80")).toBe(-128);
    expect(dec("percentV16", "ff9c")).toBe(-1);
  });

  test("DPT 9: significand·2^exponent/100, both signs; encoding picks the smallest exponent", () => {
    expect(dec("temperature", "0c33")).toBe(21.5);
    expect(dec("temperature", "860c")).toBe(-5);
    expect(dec("temperature", "0000")).toBe(0);
    expect(dec("humidity", "0fd0")).toBe(40);
    expect(dec("2byte_float", "7ffe")).toBe(670433.28); // exponent 15, significand 2046
    expect(hex("temperature", 21.5)).toBe("0c33");
    expect(hex("temperature", -5)).toBe("860c");
    expect(hex("temperature", 0.01)).toBe("0001");
    expect(dec("temperature", hex("temperature", -273))).toBe(-272.96); // exponent 4: steps of 0.16
    expect(() => hex("temperature", "warm")).toThrow('DPT 9.001 needs a number, got "warm"');
  });

  test("DPT 14: IEEE float32, read as the float32 widened (as Python's struct does)", () => {
    expect(dec("power", "3f8ccccd")).toBe(1.100000023841858);
    expect(hex("power", 1.1)).toBe("3f8ccccd");
  });

  test("DPT 16: up to 14 characters, NUL padding dropped; ASCII or Latin-1", () => {
    expect(dec("string", "48656c6c6f000000000000000000")).toBe("Hello");
    expect(dec("string", "4b4e58")).toBe("KNX");
    expect(hex("string", "Hi")).toBe("4869000000000000000000000000");
    expect(hex("string", "é")).toBe("3f" + "00".repeat(13));
    expect(hex("latin_1", "é")).toBe("e9" + "00".repeat(13));
    expect(dec("latin_1", "e9")).toBe("é");
    expect(() => hex("string", "fifteen chars!!")).toThrow("at most 14 characters");
  });

  test("a payload of the wrong length is an error naming the type, never a value", () => {
    expect(() => dec("temperature", "0c")).toThrow("DPT 9.001 needs 2 byte(s), the telegram carries 1");
    expect(() => dec("4byte_unsigned", "0102")).toThrow("DPT 12 needs 4 byte(s)");
  });
});
