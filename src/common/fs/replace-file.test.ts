import { expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { replaceFile } from "./replace-file.ts";

test("replaceFile swaps the content in one rename, keeps the mode, leaves no temporary file", () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-replace-"));
  const file = join(dir, "modbus.json");
  writeFileSync(file, '{"old": true}');
  chmodSync(file, 0o600);
  const before = statSync(file).ino;
  replaceFile(file, '{"new": true}');
  expect(readFileSync(file, "utf8")).toBe('{"new": true}');
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(statSync(file).ino).not.toBe(before); // a new file took the old one's place
  expect(readdirSync(dir)).toEqual(["modbus.json"]);
  replaceFile(join(dir, "new.json"), "x");
  expect(readFileSync(join(dir, "new.json"), "utf8")).toBe("x");
});

test("a failed write leaves the old file as it was", () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-replace-"));
  const file = join(dir, "tb_gateway.json");
  writeFileSync(file, "keep me");
  expect(() => replaceFile(join(dir, "missing-folder", "x.json"), "y")).toThrow();
  expect(readFileSync(file, "utf8")).toBe("keep me");
});
