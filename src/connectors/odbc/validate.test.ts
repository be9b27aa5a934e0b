// `tb-gw validate` on the upstream sample (no database touched), and `validate --sample` with one
// row as JSON: the devices, keys and values the sample's mapping gives.

import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, CLI } from "../../../test/support/gateway.ts";
import { SAMPLES } from "../../../test/support/paths.ts";

test("validate accepts the upstream odbc.json; --sample shows what one row becomes", () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-odbc-validate-"));
  const main = JSON.parse(readFileSync(join(SAMPLES, "tb_gateway.json"), "utf8"));
  main.connectors = [{ name: "Database", type: "odbc", configuration: join(SAMPLES, "odbc.json") }];
  writeFileSync(join(dir, "tb_gateway.json"), JSON.stringify(main));
  const ok = spawnSync(BUN, [CLI, "validate", join(dir, "tb_gateway.json")], { encoding: "utf8" });
  expect(ok.stdout + ok.stderr).toContain("and 1 connector config: valid");
  expect(ok.status).toBe(0);

  writeFileSync(join(dir, "row.json"), JSON.stringify({ bool_v: null, str_v: null, long_v: 42, dbl_v: null, entity_id: "e1", ts: 1765000000000 }));
  const r = spawnSync(BUN, [CLI, "validate", join(dir, "tb_gateway.json"), "--sample", join(dir, "row.json"), "--connector", "Database"], { encoding: "utf8" });
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('device "ODBC e1" (type postgres)');
  expect(r.stdout).toContain("long_v = 42");
  expect(r.stdout).toContain("value = 42");
  expect(r.stdout).not.toContain("bool_v"); // NULL columns are not attributes
}, 60_000);

test("validate warns about a polling query without its one ? or without a LIMIT", async () => {
  const { descriptor } = await import("./index.ts");
  const lint = (query: string) => descriptor.lint!({ polling: { query } }).map((w) => w.message);
  expect(lint("SELECT * FROM t WHERE ts > ? ORDER BY ts LIMIT 10")).toEqual([]);
  expect(lint("SELECT TOP 10 * FROM t WHERE ts > ? AND note <> '?' ORDER BY ts")).toEqual([]);
  expect(lint("SELECT * FROM t ORDER BY ts LIMIT 10")).toEqual([expect.stringContaining('has 0 "?" placeholders')]);
  expect(lint("SELECT * FROM t WHERE ts > ?")).toEqual([expect.stringContaining("no LIMIT")]);
});
