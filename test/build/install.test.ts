// install.sh as a user runs it: --help teaches (and shows no script lines), an install into a
// prefix and config folder of our choosing works with the built binary, and a second install
// keeps the user's edited config. The binary is chosen by `uname -m` (a stand-in `uname` first on
// PATH plays a Raspberry Pi): aarch64 gets the arm64 build, 32-bit ARM is refused with the reason.

import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { elfMachineOf, hostTarget, TARGETS } from "../../build/targets.ts";
import { testBinary } from "../support/binary.ts";
import { buildArm64Once } from "../support/binary-arm64.ts";
import { ROOT } from "../support/gateway.ts";

const run = (args: string[], env: Record<string, string> = {}) => spawnSync("bash", [join(ROOT, "install.sh"), ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env } });

/** PATH with stand-ins first: `uname` saying `machine`, and `getconf LONG_BIT` saying `bits`. */
function pretend(machine: string, bits = "64"): Record<string, string> {
  const bin = mkdtempSync(join(tmpdir(), "tbgw-fake-uname-"));
  writeFileSync(join(bin, "uname"), `#!/bin/sh\necho ${machine}\n`);
  writeFileSync(join(bin, "getconf"), `#!/bin/sh\necho ${bits}\n`);
  chmodSync(join(bin, "uname"), 0o755);
  chmodSync(join(bin, "getconf"), 0o755);
  return { PATH: `${bin}:${process.env.PATH}` };
}
const temp = (p: string) => mkdtempSync(join(tmpdir(), p));

test("install.sh --help prints usage, options and examples, exit 0; an unknown option exits 2", () => {
  const r = run(["--help"]);
  expect(r.status).toBe(0);
  expect(r.stdout).toStartWith("Usage: ./install.sh");
  for (const o of ["--prefix DIR", "--config-dir DIR", "--systemd", "--target T", "--no-build", "Examples:"]) expect(r.stdout).toContain(o);
  expect(r.stdout).not.toMatch(/set -e|^#!|\$\(/m);
  const bad = run(["--nope"]);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain("unknown option --nope");
  const target = run(["--target", "linux-riscv64"]);
  expect(target.status).toBe(2);
  expect(target.stderr).toContain("unknown --target linux-riscv64 (linux-x64 or linux-arm64)");
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
  expect(version.stdout.trim()).toMatch(new RegExp(`^\\d+\\.\\d+\\.\\d+ \\(${hostTarget()}\\)$`));
  const main = join(configDir, "tb_gateway.json");
  expect(JSON.parse(readFileSync(main, "utf8")).thingsboard).toBeDefined();
  writeFileSync(main, '{"edited": true}');
  expect(run(["--prefix", prefix, "--config-dir", configDir]).status).toBe(0);
  expect(readFileSync(main, "utf8")).toBe('{"edited": true}');
}, 120000);

test("install.sh on an aarch64 machine installs the arm64 build; --target installs it for another machine without running it", () => {
  const arm64 = buildArm64Once();
  const same = (installed: string) => readFileSync(installed).equals(readFileSync(arm64));
  // --target: the arm64 binary into a prefix (another machine's root file system), not run here
  const prefix = temp("tbgw-prefix-");
  const r = run(["--target", "linux-arm64", "--no-build", "--prefix", prefix, "--config-dir", join(temp("tbgw-etc-"), "tb-gw")]);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
  expect(r.stdout).toContain("built for linux-arm64; not run on this");
  expect(elfMachineOf(join(prefix, "bin/tb-gw"))).toBe(TARGETS["linux-arm64"].elfMachine);
  expect(same(join(prefix, "bin/tb-gw"))).toBe(true);
  if (hostTarget() === "linux-arm64") return; // below: an x64 machine pretending to be a Pi
  // `uname -m` says aarch64: the arm64 build is installed, and its start check says that it does
  // not run here (it is not a Pi after all), exit 1 — unless the kernel hands arm64 programs to qemu
  const piPrefix = temp("tbgw-prefix-");
  const pi = run(["--no-build", "--prefix", piPrefix, "--config-dir", join(temp("tbgw-etc-"), "tb-gw")], pretend("aarch64"));
  expect(same(join(piPrefix, "bin/tb-gw"))).toBe(true);
  if (existsSync("/proc/sys/fs/binfmt_misc/qemu-aarch64")) expect(pi.stdout).toContain("(linux-arm64)");
  else {
    expect(pi.status).toBe(1);
    expect(pi.stderr).toContain(`installed ${piPrefix}/bin/tb-gw (dist/tb-gw-linux-arm64) but it does not run on this machine`);
  }
}, 180000);

test("install.sh refuses 32-bit ARM, and a 64-bit kernel under a 32-bit system, saying a 64-bit OS is needed", () => {
  for (const [machine, bits] of [["armv7l", "32"], ["aarch64", "32"]] as const) {
    const prefix = temp("tbgw-prefix-");
    const r = run(["--no-build", "--prefix", prefix], pretend(machine, bits));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("tb-gw needs a 64-bit OS (Raspberry Pi OS 64-bit, Debian arm64)");
    expect(spawnSync("ls", [prefix], { encoding: "utf8" }).stdout).toBe(""); // nothing installed
  }
});
