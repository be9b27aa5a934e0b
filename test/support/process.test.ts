// The log check every gateway test gets from startProcess: a tb-gw log line whose error text was
// lost (`failed ()`, `failed: ` at the end, `undefined`) makes stop() fail.

import { expect, test } from "bun:test";
import { emptyErrorLines, startProcess } from "./process.ts";

const line = (level: string, text: string) => `2026-12-07T00:02:59.453Z ${level.padEnd(7)} [PLC] ${text}`;

test("emptyErrorLines finds lost error texts in tb-gw's log lines only", () => {
  const bad = [line("WARNING", 'device "Big Ints": subscription failed (); polling instead'), line("ERROR", "read failed: "), line("ERROR", "read failed: undefined")];
  const good = [line("INFO", "connected (3 devices)"), line("ERROR", "read failed: ECONNREFUSED 127.0.0.1:502"), "a peer's own line: failed ()", "undefined"];
  expect(emptyErrorLines([...good, ...bad].join("\n"))).toEqual(bad);
});

test("stop() fails for a process that logged an empty error text, and passes for a clean one", async () => {
  const dirty = await startProcess("sh", ["-c", `echo '${line("ERROR", "poll failed ()")}'; exec sleep 30`], { ready: /poll failed/ });
  await expect(dirty.stop()).rejects.toThrow(/1 line\(s\) with an empty error text:\n.*poll failed \(\)/);
  const clean = await startProcess("sh", ["-c", `echo '${line("ERROR", "poll failed (timeout)")}'; exec sleep 30`], { ready: /poll failed/ });
  await clean.stop();
});
