// The shared custom downlink loader, offline: which method is called, how a constructor that
// throws, a class without the method, a converter that throws / never settles / gives something
// the connector refuses come out (texts naming the class; never an exception into the caller).

import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logger } from "../../observe/logger.ts";
import { CustomDownlink, describe, loadCustomDownlink } from "./custom-downlink.ts";

const CLASSES = `
export class PlainDownlink { convert(config, data) { return [config.k, data.v]; } }
export class BothWays { convert() { return "uplink"; } convertDownlink(config, data) { return "down:" + data.v; } }
export class Grumpy { constructor() { throw new Error("no config for me"); } convert() {} }
export class Mute { hello() {} }
`;

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-custom-dl-"));
  mkdirSync(join(dir, "extensions", "demo"), { recursive: true });
  writeFileSync(join(dir, "extensions", "demo", "classes.js"), CLASSES);
  return dir;
}

const load = (configDir: string, extension: string, method?: "convert" | "convertDownlink") =>
  loadCustomDownlink({ extension, connectorType: "demo", configDir, ctorConfig: {}, log: logger("test"), method });
const asIs = (r: unknown) => r;

test("convert, or convertDownlink when the class has it; load errors name the class", async () => {
  const dir = folder();
  expect(await (await load(dir, "PlainDownlink")).convert({ k: 1 }, { v: 2 }, asIs)).toEqual({ ok: true, value: [1, 2] });
  expect(await (await load(dir, "BothWays")).convert({}, { v: 3 }, asIs)).toEqual({ ok: true, value: "down:3" });
  expect(await (await load(dir, "BothWays", "convert")).convert({}, { v: 3 }, asIs)).toEqual({ ok: true, value: "uplink" });
  await expect(load(dir, "Grumpy")).rejects.toThrow("custom downlink converter Grumpy: its constructor failed: no config for me");
  await expect(load(dir, "Mute")).rejects.toThrow("custom downlink converter Mute has no convert(config, data) method");
  await expect(load(dir, "PlainDownlink", "convertDownlink")).rejects.toThrow("custom downlink converter PlainDownlink has no convertDownlink(config, data) method");
  await expect(load(dir, "Nobody")).rejects.toThrow(/custom converter class Nobody not found in .*extensions\/demo; the folder exports: .*PlainDownlink/);
});

test("a throwing, rejecting, silent or refused converter gives an error text, never an exception", async () => {
  const refuse = (r: unknown) => {
    if (typeof r !== "number") throw new Error("give a number");
    return r;
  };
  const run = (fn: () => unknown) => new CustomDownlink("Demo", fn, 50).convert({}, {}, refuse);
  expect(await run(() => 7)).toEqual({ ok: true, value: 7 });
  expect(await run(() => Promise.resolve(8))).toEqual({ ok: true, value: 8 });
  expect(await run(() => {
    throw new Error("bad day");
  })).toEqual({ ok: false, error: "custom downlink converter Demo failed: bad day" });
  expect(await run(() => Promise.reject(new Error("later")))).toEqual({ ok: false, error: "custom downlink converter Demo failed: later" });
  expect(await run(() => new Promise(() => {}))).toEqual({ ok: false, error: "custom downlink converter Demo failed: no result within 0.05 s" });
  expect(await run(() => "7")).toEqual({ ok: false, error: 'custom downlink converter Demo returned "7", which cannot be written: give a number' });
  expect(await CustomDownlink.unusable("Gone", "not found").convert({}, {}, asIs)).toEqual({ ok: false, error: "custom downlink converter Gone failed: it could not be loaded (not found)" });
});

test("describe: short, safe pictures of any result", () => {
  expect(describe(undefined)).toBe("nothing");
  expect(describe(null)).toBe("null");
  expect(describe(Buffer.from([1, 2, 3]))).toBe("3 byte(s)");
  expect(describe({ a: 1n, f: () => 1 })).toBe('{"a":"1n","f":"<function>"}');
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  expect(describe(circular)).toBe("[object Object]");
  expect(describe("x".repeat(200))).toHaveLength(80);
});
