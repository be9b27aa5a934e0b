// The single executable for tests: built once per test process by build.ts, copied to a folder of
// its own, and run with node_modules hidden (an empty bind mount in a private mount namespace,
// when we are root) so that a library reading files from the build folder at run time shows up.

import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeWhenTestsEnd } from "./cleanup.ts";
import { BUN, ROOT } from "./paths.ts";

export const canHideNodeModules = process.getuid?.() === 0 && spawnSync("unshare", ["-m", "true"]).status === 0;

let built: string | undefined;

/** Path of dist/tb-gw after one build in this process (later callers reuse it). */
function buildOnce(): string {
  if (built) return built;
  // test/run-all.sh builds once before the test files start (they may run in parallel processes,
  // which must neither build again nor overwrite the file another one is copying)
  if (process.env.TB_GW_TEST_PREBUILT === "1" && existsSync(join(ROOT, "dist/tb-gw"))) return (built = join(ROOT, "dist/tb-gw"));
  const r = spawnSync(BUN, ["build.ts"], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}\n${r.stderr}`);
  built = join(ROOT, "dist/tb-gw");
  return built;
}

export interface TestBinary {
  /** Folder holding the copy (a fine working folder for the command). */
  dir: string;
  path: string;
  /** argv that runs the binary with `args`, node_modules hidden where possible. */
  command(args: string[]): [string, string[]];
}

export function testBinary(prefix = "tbgw-bin-"): TestBinary {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, "tb-gw");
  copyFileSync(buildOnce(), path);
  removeWhenTestsEnd(dir);
  const empty = mkdtempSync(join(tmpdir(), "tbgw-empty-"));
  return {
    dir,
    path,
    command(args) {
      if (!canHideNodeModules) return [path, args];
      const quoted = [path, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
      return ["unshare", ["-m", "sh", "-c", `mount --bind '${empty}' '${join(ROOT, "node_modules")}' && exec ${quoted}`]];
    },
  };
}
