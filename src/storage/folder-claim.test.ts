// The storage folder's owner mark: refused while a gateway runs on the folder, taken over from a
// gateway that died or from a pid that now belongs to another program, shared within one process.

import { afterEach, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitUntil } from "../../test/support/poll.ts";
import { CLAIM_FILE, claimFolder } from "./folder-claim.ts";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

const folder = () => mkdtempSync(join(tmpdir(), "tbgw-claim-"));
const SETTING = "storage.data_file_path";

/** A live process; with `run` among its arguments it looks like a running gateway. */
async function liveProcess(args: string[]): Promise<number> {
  const c = spawn("bash", ["-c", "sleep 60; true", ...args], { stdio: "ignore" });
  children.push(c);
  // until bash has replaced the forked copy of this process, /proc shows this test's command line
  const cmdline = () => {
    try {
      return readFileSync(`/proc/${c.pid}/cmdline`, "utf8");
    } catch {
      return "";
    }
  };
  await waitUntil(() => cmdline().endsWith(`${args.join("\0")}\0`), 10_000, "the process to start");
  return c.pid!;
}

test("a live gateway's folder is refused, naming its pid and the fix; its mark stays", async () => {
  const dir = folder();
  const pid = await liveProcess(["run"]);
  writeFileSync(join(dir, CLAIM_FILE), `${pid}\n`);
  expect(() => claimFolder(dir, SETTING)).toThrow(
    `${SETTING}: ${dir} is used by another tb-gw (pid ${pid}); two gateways on one storage folder break each other's writes and may delete each other's unsent records. Stop that one, or run this one as another instance (--instance ID gives it a storage folder of its own)`,
  );
  expect(readFileSync(join(dir, CLAIM_FILE), "utf8")).toBe(`${pid}\n`);
});

test("the mark of a gateway that died, or of a pid now another program's, is taken over", async () => {
  for (const owner of [await exitedPid(), await liveProcess(["not-a-gateway"])]) {
    const dir = folder();
    writeFileSync(join(dir, CLAIM_FILE), `${owner}\n`);
    const release = claimFolder(dir, SETTING);
    expect(readFileSync(join(dir, CLAIM_FILE), "utf8")).toBe(`${process.pid}\n`);
    release();
    expect(existsSync(join(dir, CLAIM_FILE))).toBe(false);
  }
});

test("storages of one process share the folder; the mark goes with the last release, once", () => {
  const dir = folder();
  const first = claimFolder(dir, SETTING);
  const second = claimFolder(dir, SETTING);
  first();
  first();
  expect(existsSync(join(dir, CLAIM_FILE))).toBe(true);
  second();
  expect(existsSync(join(dir, CLAIM_FILE))).toBe(false);
});

test("an unreadable or empty mark is not an owner", () => {
  const dir = folder();
  writeFileSync(join(dir, CLAIM_FILE), "");
  claimFolder(dir, SETTING)();
  expect(existsSync(join(dir, CLAIM_FILE))).toBe(false);
});

async function exitedPid(): Promise<number> {
  const c = spawn("true", [], { stdio: "ignore" });
  await new Promise((r) => c.once("exit", r));
  return c.pid!;
}
