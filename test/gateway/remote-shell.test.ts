// Remote shell RPCs (spec platform-api.md §5.2): a gateway with `remoteShell: true` runs commands
// for the platform and streams their output; one without it runs nothing.

import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import type { Started } from "../support/process.ts";
import { worldForFile } from "./fixtures.ts";

const world = worldForFile();
let nextId = 5000;

async function withGateway(remoteShell: boolean, body: (gw: Started) => Promise<void>): Promise<void> {
  const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "memory" }, [], { remoteShell }), {});
  const before = world.harness.received.filter((r) => r.topic.startsWith("v1/devices/me/rpc/request/")).length;
  const gw = await startGateway(files.configPath);
  try {
    // the session is up once the gateway asked for its session limits
    await world.harness.waitFor((h) => h.received.filter((r) => r.topic.startsWith("v1/devices/me/rpc/request/")).length > before, 10000, "session start");
    await body(gw);
  } finally {
    await gw.stop();
  }
}

/** One gateway RPC and its reply body. */
async function call(method: string, params: unknown = {}): Promise<any> {
  const id = nextId++;
  await world.harness.sendGatewayRpc(id, method, params);
  const reply = await world.harness.waitFor((h) => h.received.find((r) => r.topic === `v1/devices/me/rpc/response/${id}`), 10000, `${method} reply`);
  return reply.body;
}

/** Polls getCommandStatus until done; returns everything the command wrote. */
async function outputOf(): Promise<{ stdout: string; stderr: string; cwd: string }> {
  let stdout = "";
  let stderr = "";
  for (;;) {
    const s = await call("getCommandStatus");
    for (const d of s.data) {
      stdout += d.stdout;
      stderr += d.stderr;
    }
    if (s.done) return { stdout, stderr, cwd: s.cwd };
  }
}

describe("remote shell", () => {
  test("enabled: term info, a command's stdout and stderr, cd, terminating a long command", async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "tbgw-shell-")));
    await withGateway(true, async (gw) => {
      const info = await call("getTermInfo");
      expect(info.platform).toBe("Linux");
      expect(typeof info.release).toBe("string");

      expect(await call("sendCommand", { command: `cd ${dir}` })).toEqual({ ok: true });
      expect(await call("sendCommand", { command: "printf 'line1\\nline2\\n'; pwd; echo oops >&2; touch made-here" })).toEqual({ ok: true });
      const out = await outputOf();
      expect(out.stdout).toBe(`line1\nline2\n${dir}\n`);
      expect(out.stderr).toBe("oops\n");
      expect(out.cwd).toBe(dir);
      expect(existsSync(join(dir, "made-here"))).toBe(true);

      expect(await call("sendCommand", { command: "cd /no/such/dir" })).toMatchObject({ ok: false });
      expect(await call("sendCommand", { command: "echo started; exec sleep 30" })).toEqual({ ok: true });
      // streamed: the first line arrives while the command still runs (and terminating only then
      // keeps the shell from being killed before it printed)
      let early = "";
      while (!early.includes("\n")) {
        const s = await call("getCommandStatus");
        expect(s.done).toBe(false);
        for (const d of s.data) early += d.stdout;
      }
      expect(await call("sendCommand", { command: "echo second" })).toMatchObject({ ok: false });
      expect(await call("terminateCommand")).toEqual({ ok: true });
      const killed = await outputOf();
      expect(early + killed.stdout).toBe("started\n");
      expect(await call("terminateCommand")).toEqual({ ok: false });
      expect(gw.output()).toContain("remote shell: running `printf");
    });
  }, 40000);

  test("disabled (the default): the methods are unknown and nothing runs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-noshell-"));
    await withGateway(false, async () => {
      const reply = await call("sendCommand", { command: `touch ${join(dir, "must-not-exist")}` });
      expect(reply.code).toBe(404);
      // a later round trip: had the command run, the file would be there by now
      await call("gateway_ping");
      expect(existsSync(join(dir, "must-not-exist"))).toBe(false);
    });
  }, 40000);
});
