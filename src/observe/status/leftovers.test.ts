// What a gateway killed with SIGKILL leaves in the status folders (its per-process socket, its
// discovery file) is removed by the next gateway's start; nothing of a live process is touched.

import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { discoveryDir, perProcessSocketPath, removeLeftovers } from "./paths.ts";

const saved = { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR, TMPDIR: process.env.TMPDIR };
const made: string[] = [];
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The pid of a process that has ended (spawned, run to its end and reaped). */
function deadPid(): number {
  const p = Bun.spawnSync(["true"]);
  return p.pid;
}

function leftovers(): { dead: string[]; live: string[] } {
  const dead = deadPid();
  const files = { dead: [perProcessSocketPath(dead)], live: [perProcessSocketPath(process.pid)] };
  mkdirSync(discoveryDir(), { recursive: true });
  for (const [which, pid] of [["dead", dead], ["live", process.pid]] as const) {
    const f = join(discoveryDir(), `${which}0123456789abc.json`);
    writeFileSync(f, JSON.stringify({ socket: perProcessSocketPath(pid), pid, configDir: "/x", configPath: "/x/tb_gateway.json", startedAt: 1 }));
    files[which].push(f);
  }
  for (const s of [...files.dead.slice(0, 1), ...files.live.slice(0, 1)]) writeFileSync(s, "");
  return files;
}

for (const where of ["XDG_RUNTIME_DIR", "TMPDIR (no runtime folder)"] as const) {
  test(`in ${where}: the dead gateway's socket and discovery file go, the live one's stay`, () => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-leftovers-"));
    made.push(dir);
    if (where === "XDG_RUNTIME_DIR") process.env.XDG_RUNTIME_DIR = dir;
    else {
      delete process.env.XDG_RUNTIME_DIR;
      process.env.TMPDIR = dir;
    }
    const files = leftovers();
    const defaultSocket = join(dir, where === "XDG_RUNTIME_DIR" ? "tb-gw.sock" : `tb-gw-${process.getuid?.() ?? 0}.sock`);
    writeFileSync(defaultSocket, ""); // the default socket is handled where it is opened, not here
    expect(removeLeftovers()).toBe(2);
    for (const f of files.dead) expect(existsSync(f)).toBe(false);
    for (const f of files.live) expect(existsSync(f)).toBe(true);
    expect(existsSync(defaultSocket)).toBe(true);
    expect(removeLeftovers()).toBe(0);
  });
}
