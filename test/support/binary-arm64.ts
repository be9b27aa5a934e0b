// The linux-arm64 executable for tests: built once per test process (build.ts --target
// linux-arm64), copied to a folder of its own, and run under qemu-user on an x64 machine (natively
// on an arm64 one), with node_modules hidden as test/support/binary.ts does for the x64 binary.
// qemu-user-static and libc6:arm64 come from test/install-peers.sh; qemu is called directly, so
// no binfmt_misc registration is needed (containers often have none).

import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { outfileFor, runnerFor } from "../../build/targets.ts";
import { canHideNodeModules, type TestBinary } from "./binary.ts";
import { removeWhenTestsEnd } from "./cleanup.ts";
import { BUN, ROOT } from "./gateway.ts";
import { startProcess, type Started } from "./process.ts";

let built: string | undefined;

/** Path of dist/tb-gw-linux-arm64 after one build in this process (later callers reuse it). */
export function buildArm64Once(): string {
  if (built) return built;
  // built by test/run-all.sh before parallel test processes start (see binary.ts)
  if (process.env.TB_GW_TEST_PREBUILT === "1" && existsSync(join(ROOT, outfileFor("linux-arm64")))) return (built = join(ROOT, outfileFor("linux-arm64")));
  const r = spawnSync(BUN, ["build.ts", "--target", "linux-arm64"], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`arm64 build failed:\n${r.stdout}\n${r.stderr}`);
  built = join(ROOT, outfileFor("linux-arm64"));
  return built;
}

export interface Arm64Binary extends TestBinary {
  /** True when it runs under qemu-user (any machine but an arm64 one). */
  emulated: boolean;
}

/** A fresh copy of the arm64 binary; throws, saying what to install, when it cannot run here. */
export function arm64Binary(prefix = "tbgw-arm64-"): Arm64Binary {
  const runner = runnerFor("linux-arm64");
  if (!runner.prefix) throw new Error(`the arm64 binary cannot run on this machine: ${runner.reason} (test/install-peers.sh installs both)`);
  const run = runner.prefix;
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, "tb-gw");
  copyFileSync(buildArm64Once(), path);
  removeWhenTestsEnd(dir);
  const empty = mkdtempSync(join(tmpdir(), "tbgw-empty-"));
  return {
    dir,
    path,
    emulated: runner.emulated,
    command(args) {
      const argv = [...run, path, ...args];
      if (!canHideNodeModules) return [argv[0]!, argv.slice(1)];
      const quoted = argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
      return ["unshare", ["-m", "sh", "-c", `mount --bind '${empty}' '${join(ROOT, "node_modules")}' && exec ${quoted}`]];
    },
  };
}

/**
 * `tb-gw run --config` from the arm64 binary, ready at "gateway started". Emulated start-up takes
 * a few seconds on a loaded machine instead of ~100 ms, hence the generous bound on a hang.
 */
export function startArm64Gateway(bin: Arm64Binary, configPath: string, env: Record<string, string> = {}): Promise<Started> {
  const [cmd, args] = bin.command(["run", "--config", configPath]);
  return startProcess(cmd, args, { cwd: bin.dir, ready: /gateway started/, timeoutMs: 60000, env: { TB_GW_LOG_LEVEL: "INFO", ...env } });
}
