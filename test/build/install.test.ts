// install.sh as a user runs it: --help teaches (and shows no script lines), an install into a
// prefix and config folder of our choosing works with the built binary, and a second install
// keeps the user's edited config.

import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testBinary } from "../support/binary.ts";
import { ROOT } from "../support/gateway.ts";

const run = (args: string[]) => spawnSync("bash", [join(ROOT, "install.sh"), ...args], { cwd: ROOT, encoding: "utf8" });

test("install.sh --help prints usage, options and examples, exit 0; an unknown option exits 2", () => {
  const r = run(["--help"]);
  expect(r.status).toBe(0);
  expect(r.stdout).toStartWith("Usage: ./install.sh");
  for (const o of ["--prefix DIR", "--config-dir DIR", "--systemd", "Examples:"]) expect(r.stdout).toContain(o);
  expect(r.stdout).not.toMatch(/set -e|^#!|\$\(/m);
  const bad = run(["--nope"]);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain("unknown option --nope");
});

test("install.sh installs the binary, templates and systemd units (tb-gw.service and the template tb-gw@.service), and never overwrites an edited config", () => {
  testBinary(); // dist/tb-gw built and current, so install.sh copies rather than builds
  const prefix = mkdtempSync(join(tmpdir(), "tbgw-prefix-"));
  const configDir = join(mkdtempSync(join(tmpdir(), "tbgw-etc-")), "tb-gw");
  const unitDir = mkdtempSync(join(tmpdir(), "tbgw-units-"));
  const first = run(["--prefix", prefix, "--config-dir", configDir, "--systemd", "--unit-dir", unitDir]);
  expect({ status: first.status, stderr: first.status ? first.stderr : "" }).toEqual({ status: 0, stderr: "" });
  expect(readFileSync(join(unitDir, "tb-gw.service"), "utf8")).toContain(`ExecStart=${prefix}/bin/tb-gw run --config ${configDir}/tb_gateway.json\n`);
  const template = readFileSync(join(unitDir, "tb-gw@.service"), "utf8");
  expect(template).toContain(`ExecStart=${prefix}/bin/tb-gw run --config ${configDir}/tb_gateway.json --instance %i\n`);
  expect(template).toContain(`EnvironmentFile=-${configDir}/instance-%i.env\n`);
  expect(template).toMatch(/^Restart=always$/m);
  expect(first.stdout).toContain("systemctl enable --now tb-gw@1 tb-gw@2");
  const version = spawnSync(join(prefix, "bin/tb-gw"), ["--version"], { encoding: "utf8" });
  expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  const main = join(configDir, "tb_gateway.json");
  expect(JSON.parse(readFileSync(main, "utf8")).thingsboard).toBeDefined();
  writeFileSync(main, '{"edited": true}');
  expect(run(["--prefix", prefix, "--config-dir", configDir]).status).toBe(0);
  expect(readFileSync(main, "utf8")).toBe('{"edited": true}');
}, 120000);
