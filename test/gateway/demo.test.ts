// `tb-gw run --demo`: simulated devices → MQTT connector → embedded platform endpoint, with no
// external service; SIGTERM stops it with exit code 0. A second demo started beside it keeps its
// config in its own folder.

import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, CLI } from "../support/gateway.ts";
import { freePort } from "../support/ports.ts";
import { waitUntil } from "../support/poll.ts";
import { startProcess } from "../support/process.ts";

test("the demo shows live telemetry arriving at its local platform, and stops cleanly", async () => {
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), "tbgw-demo-"));
  const gw = await startProcess(BUN, [CLI, "run", "--demo", "--demo-port", String(port)], {
    ready: /demo platform received [1-9]\d* datapoints — .*temperature=/,
    timeoutMs: 30000,
    env: { XDG_STATE_HOME: state, XDG_RUNTIME_DIR: state },
  });
  try {
    expect(gw.output()).toContain(`127.0.0.1:${port}`);
    expect(gw.output()).toMatch(/thermometer-1: .*humidity=/);
  } finally {
    const exited = new Promise<number | null>((r) => gw.proc.once("exit", (code) => r(code)));
    await gw.stop("SIGTERM");
    expect(await exited).toBe(0);
  }
}, 40000);

test("a second demo beside the first takes another port and its own config folder: the first one's connector config is left alone", async () => {
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), "tbgw-demo-two-"));
  const env = { XDG_STATE_HOME: state, XDG_RUNTIME_DIR: state };
  const demo = (ready: RegExp) => startProcess(BUN, [CLI, "run", "--demo", "--demo-port", String(port)], { ready, timeoutMs: 30000, env });
  const brokerPort = (folder: string) => JSON.parse(readFileSync(join(folder, "demo-mqtt.json"), "utf8")).broker.port;
  const first = await demo(/Config used: /);
  let second: Awaited<ReturnType<typeof demo>> | undefined;
  try {
    second = await demo(/demo platform received [1-9]\d* datapoints/);
    const other = Number(/the demo broker uses port (\d+)/.exec(second.output())?.[1]);
    expect(other).toBeGreaterThan(0);
    expect(other).not.toBe(port);
    const firstFolder = join(state, "tb-gw", `demo-${port}`);
    const secondFolder = join(state, "tb-gw", `demo-${other}`);
    expect(second.output()).toContain(`Config used: ${join(secondFolder, "tb_gateway.json")}`);
    expect(brokerPort(firstFolder)).toBe(port);
    expect(brokerPort(secondFolder)).toBe(other);
    await second.stop("SIGTERM");
    second = undefined;
    // the folder of a port picked at run time goes with its demo
    expect(existsSync(secondFolder)).toBe(false);
    expect(existsSync(firstFolder)).toBe(true);
    // the first one's own data still flows
    await waitUntil(() => /demo platform received [1-9]\d* datapoints/.test(first.output()), 20_000, "the first demo's data");
    expect(first.output()).not.toContain("changed: restarting connector");
    expect(first.output()).not.toContain("not reachable");
  } finally {
    await second?.stop("SIGTERM");
    await first.stop("SIGTERM");
  }
}, 40000);
