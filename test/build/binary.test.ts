// The single executable: built by build.ts, run from an empty folder with node_modules out of
// reach (hidden by an empty bind mount in a private mount namespace when we are root), so a
// library that reads files from the build folder at run time shows up here.

import { beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, ROOT } from "../support/gateway.ts";
import { startProcess } from "../support/process.ts";

const work = mkdtempSync(join(tmpdir(), "tbgw-bin-"));
const empty = mkdtempSync(join(tmpdir(), "tbgw-empty-"));
const bin = join(work, "tb-gw");
const canHide = process.getuid?.() === 0 && spawnSync("unshare", ["-m", "true"]).status === 0;
const SAMPLES = join(ROOT, "../shared/reference/python-gateway-configs");

/** argv that runs the binary with node_modules hidden (when possible). */
function hidden(args: string[]): [string, string[]] {
  if (!canHide) return [bin, args];
  const quoted = [bin, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  return ["unshare", ["-m", "sh", "-c", `mount --bind '${empty}' '${join(ROOT, "node_modules")}' && exec ${quoted}`]];
}

beforeAll(() => {
  const r = spawnSync(BUN, ["build.ts"], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}\n${r.stderr}`);
  copyFileSync(join(ROOT, "dist/tb-gw"), bin);
}, 120000);

test("--version and --help from an empty folder", () => {
  const [cmd, args] = hidden(["--version"]);
  const r = spawnSync(cmd, args, { cwd: work, encoding: "utf8" });
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  const [hcmd, hargs] = hidden(["--help"]);
  const h = spawnSync(hcmd, hargs, { cwd: work, encoding: "utf8" });
  expect(h.stdout).toContain("run");
  expect(h.stdout).toContain("validate");
});

test("validate accepts the upstream main config from the binary", () => {
  const [cmd, args] = hidden(["validate", join(SAMPLES, "tb_gateway.json")]);
  const r = spawnSync(cmd, args, { cwd: work, encoding: "utf8" });
  expect(r.stderr + r.stdout).toContain("valid");
  expect(r.status).toBe(0);
});

test(`run --demo delivers telemetry from the binary${canHide ? " with node_modules hidden" : ""}`, async () => {
  const [cmd, args] = hidden(["run", "--demo", "--demo-port", "0"]);
  const gw = await startProcess(cmd, args, { cwd: work, ready: /demo platform received [1-9]\d* datapoints/, timeoutMs: 30000, env: { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "tbgw-state-")), XDG_RUNTIME_DIR: work } });
  const exited = new Promise<number | null>((r) => gw.proc.once("exit", (code) => r(code)));
  await gw.stop("SIGTERM");
  expect(await exited).toBe(0);
}, 40000);
