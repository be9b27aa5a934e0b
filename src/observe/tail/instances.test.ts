// `tb-gw tail` with several instances of one config: --instance picks one, --config alone lists
// them, and the discovery files of instances and of a plain gateway do not overwrite each other.
// Discovery files name this test process as the gateway (a live pid) in a private runtime folder.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultSocketPath, listDiscoveries, removeDiscovery, writeDiscovery } from "../status/paths.ts";
import { findSocket } from "./client.ts";

const saved = process.env.XDG_RUNTIME_DIR;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tbgw-tail-inst-"));
  process.env.XDG_RUNTIME_DIR = join(dir, "run");
  mkdirSync(process.env.XDG_RUNTIME_DIR, { mode: 0o700 });
});
afterAll(() => {
  if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
  else process.env.XDG_RUNTIME_DIR = saved;
  rmSync(dir, { recursive: true, force: true });
});

test("--instance N picks instance N; --config alone with instances running lists them; --list data has them all", () => {
  const configDir = join(dir, "etc");
  const gw = (instance?: string) => ({ socket: defaultSocketPath(instance), pid: process.pid, configDir, configPath: join(configDir, "tb_gateway.json"), startedAt: Date.now(), instance });
  for (const i of ["1", "2", "3"]) writeDiscovery(gw(i));
  expect(findSocket({ instance: "2" })).toBe(join(dir, "run", "tb-gw@2.sock"));
  expect(findSocket({ instance: "3", configDir })).toBe(join(dir, "run", "tb-gw@3.sock"));
  expect(() => findSocket({ instance: "4" })).toThrow(/no running gateway is instance 4; running:\n  --instance 1 .*pid \d+/);
  expect(() => findSocket({ configDir })).toThrow(/3 instances run on config folder .*; choose one:\n  --instance 1 /);
  expect(() => findSocket({})).toThrow(/several gateways are running; choose one:/);
  expect(listDiscoveries().map((d) => d.instance).sort()).toEqual(["1", "2", "3"]);
  // a plain gateway on the same folder keeps its own discovery file
  writeDiscovery(gw());
  expect(findSocket({ configDir })).toBe(join(dir, "run", "tb-gw.sock"));
  removeDiscovery(configDir, "2");
  expect(listDiscoveries().map((d) => d.instance ?? "-").sort()).toEqual(["-", "1", "3"]);
});
