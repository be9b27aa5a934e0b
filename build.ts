// Builds the single executable with `bun build --compile` semantics through the Bun.build API, for
// this machine or another one (build/targets.ts: linux-x64, linux-arm64):
//   bun build.ts                        this machine's target: dist/tb-gw-<target>, linked as dist/tb-gw
//   bun build.ts --target linux-arm64   dist/tb-gw-linux-arm64 (Bun fetches its aarch64 runtime from npm)
//   bun build.ts --release              every target, dist/SHA256SUMS, and a table of sizes
// Each executable is checked to be an ELF of its target's machine and run once (`--version`,
// which names the target): natively, or under qemu-user for a foreign target when Debian's
// qemu-user-static and libc6:<arch> are installed (otherwise a note says it was not run).
// Plugins handle what flags cannot:
//  - ink imports react-devtools-core only when DEV is set; it is not a dependency, so stub it;
//  - optional modules that libraries load only on paths we do not use are stubbed the same way:
//    x11 (dbus-next's X11 session-bus discovery; BLE uses the system bus) and proper-lockfile
//    (@ster5/global-mutex's cross-process lock fallback, not installed by node-opcua), and serialport
//    (knxultimate requires it at load for its FT1.2 serial transport, which the KNX connector never
//    uses; its native addon is not in the executable, so the real module fails at load).
//    A stub throws if it is ever really called, so a wrong assumption shows as a clear error.
//  - the ODBC connector's native binding: src/connectors/odbc/native.ts (which, from source, builds
//    and loads it by a computed path) is replaced by a `require` of dist/native/<target>/odbc.node
//    by its literal path, so Bun embeds the .node file in the executable and loads it from there.
//    The addon is built first (build/odbc-addon.ts; node-gyp, cached; linux-arm64 cross-compiled with
//    Debian's g++-aarch64-linux-gnu and unixodbc-dev:arm64). A target built without it (no cross
//    toolchain here) gets a module that throws, and TB_GW_ODBC_ADDON=false keeps the connector out
//    of its registry, so `validate` and `run` say ODBC is not in that build.
//
// Memory at idle is mostly what start-up touched, so the executable is built to touch less:
//  - bytecode: modules are loaded as precompiled bytecode, not parsed from source;
//  - bytecodeOrder: a first build runs the built-in demo (config, platform client, MQTT
//    connector, storage) and records which functions it used; the final build puts their bytecode
//    together, so start-up reads fewer pages of the executable. The profile names functions by a
//    hash of their syntax, so one profile recorded natively serves every target: an arm64 build
//    on an x64 machine is profiled by an x64 run, not a slow one under qemu;
//  - jitPolicy: code that only runs during start-up (config validation, schema construction) stays
//    in the interpreter instead of being JIT-compiled; run-gateway.ts restores the normal policy
//    once the gateway is up, so the hot paths under load are compiled as usual.
// Measured on an idle gateway with the MQTT connector (see README, Performance).
// Identifiers are not minified: libraries compare constructor names at run time (node-opcua-client
// asserts subscription.constructor.name === "ClientSubscriptionImpl" before monitoring items, so
// with short names every OPC-UA subscription failed in the binary and fell back to polling).
// Bun's keepNames did not keep that name. Cost measured 2026-12-07: executable +2.2 MB (132.1 vs
// 129.9 MB), idle RSS unchanged (42.4 vs 42.3 MB cold, 42.6 both warm, bench/idle-rss.ts).
// Bytecode and the JIT policy are target-independent options; the arm64 executable carries both
// (checked by test/build/binary-arm64.test.ts under qemu).
// `--no-profile` skips the profiling run (faster builds while developing). TB_GW_OUTFILE overrides
// the output path of a single-target build (no dist/tb-gw link then).

import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import type { BunPlugin } from "bun";
import { CrossToolchainMissing, ensureOdbcAddon } from "./build/odbc-addon.ts";
import { elfMachineOf, hostTarget, isTargetName, outfileFor, runnerFor, TARGETS, type TargetName } from "./build/targets.ts";

const STUBS = ["react-devtools-core", "x11", "proper-lockfile", "serialport"];

const stubPlugin: BunPlugin = {
  name: "stub-optional-modules",
  setup(build) {
    const filter = new RegExp(`^(${STUBS.map((s) => s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")).join("|")})$`);
    build.onResolve({ filter }, (args) => ({ path: args.path, namespace: "stub" }));
    build.onLoad({ filter: /.*/, namespace: "stub" }, () => ({ contents:
        "const missing = (n) => () => { throw new Error(`optional module not in the tb-gw binary (${n})`); };" +
        "export default {}; export const connectToDevTools = () => {}; export const lock = missing('lock'); export const check = missing('check'); export const unlock = missing('unlock'); export const createClient = missing('x11');" +
        "export function SerialPort() { throw new Error('optional module not in the tb-gw binary (serialport)'); }", loader: "js" }));
  },
};

const ODBC_NATIVE = resolve("src/connectors/odbc/native.ts");

function odbcAddonPlugin(target: TargetName, addon: string | undefined): BunPlugin {
  return {
    name: "odbc-addon",
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/]connectors[\\/]odbc[\\/]native\.ts$/ }, (args) => {
        if (resolve(args.path) !== ODBC_NATIVE) return undefined;
        const contents = addon
          ? `export function requireNativeOdbc() { return require(${JSON.stringify(resolve(addon))}); }`
          : `export function requireNativeOdbc() { throw new Error(${JSON.stringify(`ODBC is not available in the ${target} build of tb-gw`)}); }`;
        return { contents, loader: "ts" };
      });
    },
  };
}

/**
 * The target's native addons, built where needed. The ODBC binding of a foreign target whose cross
 * toolchain is not installed is left out (with a note): that executable has no ODBC connector.
 * Any other failure fails the build.
 */
function nativeAddonsFor(target: TargetName): string[] {
  const have: string[] = [];
  for (const addon of TARGETS[target].nativeAddons) {
    if (basename(addon) === "odbc.node") {
      try {
        ensureOdbcAddon(target, (line) => console.log(`build: ${line}`));
      } catch (e) {
        if (e instanceof CrossToolchainMissing) {
          console.warn(`build: ${target} without the ODBC connector: ${e.message}`);
          continue;
        }
        fail(e instanceof Error ? e.message : String(e));
      }
    }
    if (!existsSync(addon) || elfMachineOf(addon) !== TARGETS[target].elfMachine) fail(`native addon ${addon} is missing or not built for ${target}`);
    have.push(addon);
  }
  return have;
}

/** Start-up tier-up thresholds ×1000: start-up code is interpreted (see the header). */
const STARTUP_JIT_POLICY = 1000;

async function build(outfile: string, target: TargetName, bytecodeOrder?: string): Promise<void> {
  const odbcAddon = nativeAddonsFor(target).find((a) => basename(a) === "odbc.node");
  const result = await Bun.build({
    entrypoints: ["cli/main.ts"],
    compile: { outfile, target: TARGETS[target].bun, jitPolicy: STARTUP_JIT_POLICY, ...(bytecodeOrder ? { bytecodeOrder } : {}) },
    target: "bun",
    format: "esm",
    bytecode: true,
    minify: { whitespace: true, syntax: true, identifiers: false },
    // Lazily imported modules (connectors, their libraries, tail, bench) stay in separate chunks of the
    // executable, loaded only when used.
    splitting: true,
    sourcemap: "none",
    plugins: [stubPlugin, odbcAddonPlugin(target, odbcAddon)],
    define: { "process.env.NODE_ENV": '"production"', TB_GW_BUILD_TARGET: JSON.stringify(target), TB_GW_ODBC_ADDON: String(odbcAddon !== undefined) },
  });
  if (!result.success) {
    for (const l of result.logs) console.error(l);
    fail("build failed");
  }
  if (elfMachineOf(outfile) !== TARGETS[target].elfMachine) fail(`${outfile} is not an executable for ${target} (ELF machine ${elfMachineOf(outfile)})`);
}

function fail(message: string): never {
  console.error(`build: ${message}`);
  process.exit(1);
}

/**
 * Record which functions a production-shaped start uses: the built-in demo runs in one process
 * (its embedded broker is both the platform and the device broker), and a second process — the one
 * profiled — runs the shipped tb_gateway.json and mqtt.json templates against that broker. Returns the profile file, or undefined with a warning.
 */
async function recordStartupProfile(binary: string, dir: string): Promise<string | undefined> {
  const profile = join(dir, "startup.order");
  const port = freePort();
  const stateDir = join(dir, "demo-state");
  const demo = Bun.spawn([binary, "run", "--demo", "--demo-port", String(port), "--log-level", "WARNING"], {
    // own state and status-socket folders: a gateway running on this machine is not disturbed
    env: { ...process.env, XDG_STATE_HOME: stateDir, XDG_RUNTIME_DIR: join(dir, "run-demo") },
    stdout: "ignore",
    stderr: "pipe",
  });
  let gateway: ReturnType<typeof Bun.spawn> | undefined;
  try {
    // a demo on a port other than the default keeps its config in demo-<port> (src/run/run-gateway.ts;
    // test/gateway/demo.test.ts holds it to that)
    const demoConnector = join(stateDir, "tb-gw", `demo-${port}`, "demo-mqtt.json");
    const until = Date.now() + 15_000;
    while (!existsSync(demoConnector) && Date.now() < until && demo.exitCode === null) await Bun.sleep(50);
    if (!existsSync(demoConnector)) {
      // stopped first: its stderr ends only when it does
      demo.kill("SIGKILL");
      throw new Error(`the demo did not write ${demoConnector} within 15 s: ${await new Response(demo.stderr).text()}`);
    }
    const cfgDir = join(dir, "profiled");
    mkdirSync(cfgDir, { recursive: true });
    // the shipped templates, pointed at the demo's broker: what a new installation starts from
    const main = JSON.parse(readFileSync("config-templates/tb_gateway.json", "utf8"));
    main.thingsboard = { ...main.thingsboard, host: "127.0.0.1", port, security: { type: "accessToken", accessToken: "build-profile" } };
    main.connectors = [{ name: "MQTT", type: "mqtt", configuration: "mqtt.json" }];
    delete main.$schema;
    const connector = JSON.parse(readFileSync("config-templates/mqtt.json", "utf8"));
    connector.broker = { ...connector.broker, host: "127.0.0.1", port, clientId: "tb-gw-build-profile" };
    delete connector.$schema;
    writeFileSync(join(cfgDir, "mqtt.json"), JSON.stringify(connector));
    writeFileSync(join(cfgDir, "tb_gateway.json"), JSON.stringify(main));
    mkdirSync(join(dir, "run-gw"), { recursive: true });
    gateway = Bun.spawn([binary, "run", "--config", join(cfgDir, "tb_gateway.json"), "--log-level", "WARNING"], {
      env: { ...process.env, BUN_BYTECODE_ORDER_OUT: profile, XDG_RUNTIME_DIR: join(dir, "run-gw") },
      stdout: "ignore",
      stderr: "pipe",
    });
    // connected within a few hundred ms; 4 s covers the demo devices' first publishes and the
    // gateway's first sends, then a graceful stop (also profiled)
    await Bun.sleep(4000);
    gateway.kill("SIGTERM");
    const code = await gateway.exited;
    if (code !== 0 || !existsSync(profile)) throw new Error(`the profiled gateway exited with ${code}: ${await new Response(gateway.stderr as ReadableStream).text()}`);
    return profile;
  } catch (e) {
    console.warn(`build: no bytecode layout profile (${e instanceof Error ? e.message : String(e)}); building without one`);
    return undefined;
  } finally {
    gateway?.kill("SIGKILL");
    demo.kill("SIGTERM");
    await demo.exited;
  }
}

function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

/** Runs the built executable once (`--version` must name its target); a note when it cannot run here. */
function smokeRun(outfile: string, target: TargetName): string {
  const runner = runnerFor(target);
  if (!runner.prefix) return `not run here: ${"reason" in runner ? runner.reason : ""}`;
  const argv = [...runner.prefix, outfile, "--version"];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 60_000 });
  const line = r.stdout.trim();
  if (r.status !== 0 || !line.endsWith(`(${target})`)) fail(`${outfile} --version${runner.emulated ? " under qemu" : ""} gave exit ${r.status}: ${line} ${r.stderr}`);
  return `${runner.emulated ? "ran under qemu" : "ran"}: ${line}`;
}

function sha256(path: string): string {
  const h = new Bun.CryptoHasher("sha256");
  h.update(readFileSync(path));
  return h.digest("hex");
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const host = hostTarget();
const release = process.argv.includes("--release");
const asked = option("--target");
if (asked !== undefined && !isTargetName(asked)) fail(`unknown --target ${asked}; targets: ${Object.keys(TARGETS).join(", ")}`);
const targets: TargetName[] = release ? (Object.keys(TARGETS) as TargetName[]) : [asked ?? host ?? fail(`no target for this machine (${process.platform}-${process.arch}); pass --target`)];
const single = release ? undefined : process.env.TB_GW_OUTFILE || undefined;

mkdirSync("dist", { recursive: true });
const started = Date.now();
const dir = mkdtempSync(join(tmpdir(), "tb-gw-build-"));
try {
  let profile: string | undefined;
  if (process.argv.includes("--no-profile")) console.log("build: no bytecode layout profile (--no-profile)");
  else if (!host) console.warn(`build: no bytecode layout profile (this machine, ${process.platform}-${process.arch}, cannot run a profiling build natively)`);
  else {
    // recorded natively: the profile is the same for every target (see the header)
    const first = join(dir, "tb-gw-profiling");
    await build(first, host);
    profile = await recordStartupProfile(first, dir);
  }
  const rows: Array<{ file: string; target: TargetName; mb: string; sha256: string; check: string }> = [];
  for (const target of targets) {
    const outfile = single ?? outfileFor(target);
    await build(outfile, target, profile);
    if (!single && target === host) {
      // dist/tb-gw: this machine's binary under its old name, where the tests and existing scripts look
      rmSync("dist/tb-gw", { force: true });
      try {
        linkSync(outfile, "dist/tb-gw");
      } catch {
        copyFileSync(outfile, "dist/tb-gw");
      }
    }
    rows.push({ file: outfile, target, mb: (statSync(outfile).size / 1e6).toFixed(1), sha256: release ? sha256(outfile) : "", check: smokeRun(outfile, target) });
  }
  if (release) {
    writeFileSync("dist/SHA256SUMS", rows.map((r) => `${r.sha256}  ${basename(r.file)}\n`).join(""));
    console.log("release (dist/SHA256SUMS; check with: cd dist && sha256sum -c SHA256SUMS)");
    for (const r of rows) console.log(`  ${basename(r.file).padEnd(22)} ${r.mb.padStart(6)} MB  sha256 ${r.sha256}`);
  }
  for (const r of rows) console.log(`built ${r.file} (${r.target}, ${r.mb} MB; ${r.check})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`build: ${targets.join(", ")} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
