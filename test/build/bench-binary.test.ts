// `tb-gw bench` from the compiled binary, as a user runs it: a report on stdout and nothing from
// libraries on stderr (mqtt.js's url.parse printed Node's DEP0169 deprecation warning here).

import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { testBinary } from "../support/binary.ts";

test("bench from the binary prints its report and no deprecation warning", () => {
  const bin = testBinary("tbgw-bench-bin-");
  const [cmd, args] = bin.command(["bench", "--duration", "1", "--devices", "10", "--keys", "2", "--heap-ram-mb", "0"]);
  const r = spawnSync(cmd, args, { cwd: bin.dir, encoding: "utf8", timeout: 90000 });
  expect(r.status).toBe(0);
  expect(r.stdout).toContain("latency intake→PUBACK");
  expect(r.stderr).not.toMatch(/DeprecationWarning|DEP0\d+/);
}, 120000);
