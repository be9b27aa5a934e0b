// Builds the `odbc` package's native addon (odbc.node, a C++ binding over unixODBC) from source.
// npm here runs no install scripts and cannot download the package's prebuilt addons, so the
// project builds it itself: node-gyp (npm's own copy, or the one in node_modules) against the Node
// headers Debian's nodejs package installs (/usr/include/node), with g++, make, python3 and
// unixodbc-dev. No download: --nodedir points at the headers on this machine.
//
// The result lands in dist/native/<target>/odbc.node, kept between runs: a stamp next to it says
// what it was built from (odbc version, Node headers version, compiler flags), and a build runs
// only when the stamp differs or the file is missing. Users: build.ts (embeds the file in the
// executable) and, from source, src/connectors/odbc/addon.ts (builds on first use, e.g. in tests).
//
// Another target (linux-arm64 on an x64 machine) is cross-compiled with Debian's cross toolchain
// (g++-aarch64-linux-gnu) against that architecture's unixODBC (unixodbc-dev:arm64, multiarch).
// Without them `ensureOdbcAddon` throws CrossToolchainMissing, and build.ts builds that target's
// executable without the ODBC connector (saying so) instead of failing.

import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const PACKAGE = join(ROOT, "node_modules", "odbc");

/** Where the addon for `target` (e.g. "linux-x64") is written. */
export function odbcAddonPath(target: string, root = ROOT): string {
  return join(root, "dist", "native", target, "odbc.node");
}

const NODE_HEADERS = ["/usr/include/node", "/usr/local/include/node"];
const NODE_GYP = ["/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js", "/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"];

function nodedir(): string {
  const headers = NODE_HEADERS.find((h) => existsSync(join(h, "node_api.h")) && existsSync(join(h, "common.gypi")));
  if (!headers) throw new Error(`no Node headers (node_api.h, common.gypi) in ${NODE_HEADERS.join(" or ")}: install Debian's nodejs package (libnode-dev on older releases)`);
  return dirname(dirname(headers)); // node-gyp wants the prefix: <nodedir>/include/node
}

function nodeGyp(): string {
  // node_modules/.bin/node-gyp is 7.x here, which fails on Node 20's config.gypi; npm's is current
  const gyp = NODE_GYP.find((p) => existsSync(p));
  if (!gyp) throw new Error(`no node-gyp found (looked for npm's copy in ${NODE_GYP.join(", ")})`);
  return gyp;
}

function stampOf(nodeDir: string): string {
  const odbc = JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8")).version;
  const headers = readFileSync(join(nodeDir, "include", "node", "node_version.h"), "utf8");
  const v = ["MAJOR", "MINOR", "PATCH"].map((p) => headers.match(new RegExp(`#define NODE_${p}_VERSION (\\d+)`))?.[1] ?? "?").join(".");
  return JSON.stringify({ odbc, nodeHeaders: v, napi: 8, strip: true, patches: ["getInfoString"] });
}

/**
 * Upstream names its iterator file after SQLGetInfo's driver, server and database names (pyodbc's
 * getinfo). The binding has a private GetInfo that always asks for SQL_USER_NAME and exposes only
 * getUsername; the copy built here asks for the option given and exposes it as getInfoString(n).
 * Each replacement must match, so a new odbc version with other sources fails the build loudly.
 */
function patchGetInfo(src: string): void {
  const edit = (file: string, from: string, to: string) => {
    const path = join(src, file);
    const text = readFileSync(path, "utf8");
    if (!text.includes(from)) throw new Error(`cannot patch ${file} of the odbc package (getInfoString): "${from}" not found; the package changed`);
    writeFileSync(path, text.replace(from, to));
  };
  edit("odbc_connection.h", "  Napi::Value GetUsername(const Napi::CallbackInfo& info);", "  Napi::Value GetUsername(const Napi::CallbackInfo& info);\n  Napi::Value GetInfoString(const Napi::CallbackInfo& info);");
  edit("odbc_connection.cpp", 'InstanceMethod("getUsername", &ODBCConnection::GetUsername),', 'InstanceMethod("getUsername", &ODBCConnection::GetUsername),\n      InstanceMethod("getInfoString", &ODBCConnection::GetInfoString),');
  edit("odbc_connection.cpp", "this->hDBC, SQL_USER_NAME, infoValue, sizeof(infoValue), &infoLength", "this->hDBC, option, infoValue, sizeof(infoValue), &infoLength");
  edit(
    "odbc_connection.cpp",
    "Napi::Value\nODBCConnection::GetInfo(const Napi::Env env, const SQLUSMALLINT option) {",
    "Napi::Value ODBCConnection::GetInfoString(const Napi::CallbackInfo& info) {\n  Napi::Env env = info.Env();\n  Napi::HandleScope scope(env);\n  if (info.Length() < 1 || !info[0].IsNumber()) return env.Null();\n  return this->GetInfo(env, (SQLUSMALLINT)info[0].As<Napi::Number>().Uint32Value());\n}\n\nNapi::Value\nODBCConnection::GetInfo(const Napi::Env env, const SQLUSMALLINT option) {",
  );
}

/**
 * The addon for this machine's target, built when missing or stale. Returns its path; throws with
 * the compiler's output when the build fails (most often: unixodbc-dev or g++ not installed).
 */
/** A foreign target whose cross toolchain or unixODBC libraries are not installed. */
export class CrossToolchainMissing extends Error {}

/** Debian names of each target's machine: gyp's arch, the GNU triplet and the dpkg architecture. */
const CROSS: Record<string, { arch: string; triplet: string; deb: string; compiler: string }> = {
  "linux-arm64": { arch: "arm64", triplet: "aarch64-linux-gnu", deb: "arm64", compiler: "g++-aarch64-linux-gnu" },
  "linux-x64": { arch: "x64", triplet: "x86_64-linux-gnu", deb: "amd64", compiler: "g++-x86-64-linux-gnu" },
};

function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

/** Compiler settings for `target`: none for this machine's; the cross toolchain for another. */
function toolchainFor(target: string): { env: Record<string, string>; gypArgs: string[]; strip: string } {
  const host = `${process.platform}-${process.arch}`;
  if (target === host) {
    if (!existsSync("/usr/include/sql.h")) throw new Error("cannot build the ODBC addon: unixODBC headers (/usr/include/sql.h) are missing; install Debian package unixodbc-dev (and g++, make, python3)");
    return { env: {}, gypArgs: [], strip: "strip" };
  }
  const c = CROSS[target];
  if (!c) throw new CrossToolchainMissing(`no cross-compiling settings for ${target}`);
  const gxx = `${c.triplet}-g++`;
  const lib = `/usr/lib/${c.triplet}/libodbc.so`;
  if (!onPath(gxx) || !existsSync(lib)) {
    throw new CrossToolchainMissing(`cross-compiling the ODBC addon for ${target} needs ${gxx} and ${lib}: apt-get install ${c.compiler} unixodbc-dev:${c.deb} (after dpkg --add-architecture ${c.deb})`);
  }
  return {
    env: { CC: `${c.triplet}-gcc`, CXX: gxx, LINK: gxx, AR: `${c.triplet}-ar` },
    gypArgs: [`--arch=${c.arch}`],
    strip: `${c.triplet}-strip`,
  };
}

export function ensureOdbcAddon(target: string, log: (line: string) => void = () => {}): string {
  const out = odbcAddonPath(target);
  const stampFile = `${out}.stamp`;
  const nodeDir = nodedir();
  const stamp = stampOf(nodeDir);
  if (existsSync(out) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return out;
  const tools = toolchainFor(target);
  log(`building the ODBC addon (node-gyp, ${target}) into ${out}`);
  mkdirSync(dirname(out), { recursive: true });
  // a private copy of the sources: node-gyp writes build/ beside binding.gyp, and node_modules is
  // shared (hard-linked) between work trees; parallel builds do not meet either
  const work = mkdtempSync(join(dirname(out), "gyp-"));
  try {
    copyFileSync(join(PACKAGE, "binding.gyp"), join(work, "binding.gyp"));
    spawnSync("cp", ["-r", join(PACKAGE, "src"), join(work, "src")]);
    patchGetInfo(join(work, "src"));
    const r = spawnSync(process.env.NODE ?? "node", [nodeGyp(), "rebuild", `--nodedir=${nodeDir}`, ...tools.gypArgs, "--", "-Dnapi_build_version=8", "-Dmodule_name=odbc", `-Dmodule_path=${join(work, "out")}`], {
      cwd: work,
      encoding: "utf8",
      // binding.gyp asks `node -p "require('node-addon-api').include"`: the odbc package's own copy
      env: { ...process.env, ...tools.env, NODE_PATH: join(PACKAGE, "node_modules") },
      maxBuffer: 64 * 1024 * 1024,
    });
    const built = join(work, "build", "Release", "odbc.node");
    if (r.status !== 0 || !existsSync(built)) throw new Error(`node-gyp could not build the ODBC addon (exit ${r.status}${r.error ? `, ${r.error.message}` : ""}):\n${(r.stdout + r.stderr).split("\n").slice(-30).join("\n")}`);
    // the package compiles with -g: debug info is 90 % of the file and nothing here reads it
    spawnSync(tools.strip, ["--strip-debug", built]);
    const tmp = `${out}.${process.pid}.tmp`;
    copyFileSync(built, tmp);
    renameSync(tmp, out);
    writeFileSync(stampFile, stamp);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const target = process.argv[2] ?? `${process.platform}-${process.arch}`;
  console.log(ensureOdbcAddon(target, console.log));
}
