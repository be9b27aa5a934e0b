// The single executable: built by build.ts, run from an empty folder with node_modules out of
// reach (hidden by an empty bind mount in a private mount namespace when we are root), so a
// library that reads files from the build folder at run time shows up here.

import { beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { hostTarget } from "../../build/targets.ts";
import { canHideNodeModules, testBinary, type TestBinary } from "../support/binary.ts";
import { ROOT } from "../support/gateway.ts";
import { startProcess } from "../support/process.ts";
import { waitUntil } from "../support/poll.ts";

const SAMPLES = join(ROOT, "../shared/reference/python-gateway-configs");
const canHide = canHideNodeModules;
let bin: TestBinary;
let work: string;
const hidden = (args: string[]) => bin.command(args);

beforeAll(() => {
  bin = testBinary();
  work = bin.dir;
}, 120000);

test("--version and --help from an empty folder", () => {
  const [cmd, args] = hidden(["--version"]);
  const r = spawnSync(cmd, args, { cwd: work, encoding: "utf8" });
  expect(r.status).toBe(0);
  // the version first (scripts take the first word), then the target the binary was built for
  expect(r.stdout.trim()).toBe(`${pkg.version} (${hostTarget()})`);
  expect(r.stdout.split(" ")[0]).toMatch(/^\d+\.\d+\.\d+$/);
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

// yaml and fast-levenshtein are require()d on first use (src/config/source.ts, suggest.ts), not
// imported at start: the bundle must still carry them and load them from inside the executable.
test("validate reads a YAML config and suggests a fix from the binary (libraries loaded on first use)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-yaml-"));
  const file = join(dir, "tb_gateway.yaml");
  writeFileSync(file, "thingsboard:\n  host: 127.0.0.1\n  prot: 1883\n  security:\n    accessToken: a\nstorage:\n  type: memory\n");
  const [cmd, args] = hidden(["validate", file]);
  const r = spawnSync(cmd, args, { cwd: work, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  expect(r.stdout + r.stderr).toContain(`${file}:3:3: warning: unknown field "prot" in thingsboard (did you mean "port"?); it is ignored`);
  expect(r.status).toBe(0);
});

test(`run --demo delivers telemetry from the binary${canHide ? " with node_modules hidden" : ""}`, async () => {
  const [cmd, args] = hidden(["run", "--demo", "--demo-port", "0"]);
  const gw = await startProcess(cmd, args, { cwd: work, ready: /demo platform received [1-9]\d* datapoints/, timeoutMs: 30000, env: { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "tbgw-state-")), XDG_RUNTIME_DIR: work } });
  const exited = new Promise<number | null>((r) => gw.proc.once("exit", (code) => r(code)));
  await gw.stop("SIGTERM");
  expect(await exited).toBe(0);
}, 40000);

// src/run/release-code-pages.ts unmaps the executable's start-up code pages 3 s after start: the
// binary must go on working on pages mapped back as needed (the demo's data keeps arriving).
test("the binary keeps delivering after its start-up code pages are released", async () => {
  const [cmd, args] = hidden(["run", "--demo", "--demo-port", "0", "--log-level", "DEBUG"]);
  const gw = await startProcess(cmd, args, { cwd: work, ready: /code pages unmapped/, timeoutMs: 30000, env: { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "tbgw-state-")), XDG_RUNTIME_DIR: work } });
  try {
    const received = () => [...gw.output().matchAll(/demo platform received (\d+) datapoints/g)].map((m) => Number(m[1]));
    const atRelease = Math.max(0, ...received());
    expect(gw.output()).toMatch(/start-up over: \d+\.\d MB of code pages unmapped/);
    await waitUntil(() => Math.max(0, ...received()) > atRelease, 30000, "more demo datapoints after the release");
  } finally {
    await gw.stop("SIGTERM");
  }
}, 60000);
