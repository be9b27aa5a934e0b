// `tb-gw tail` as a user runs it: a separate process attached to a running gateway process whose
// MQTT connector reads a device on a real Mosquitto; the platform is a second Mosquitto.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, CLI, mainConfig, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { worldForFile } from "../../../test/gateway/fixtures.ts";
import type { Started } from "../../../test/support/process.ts";

const world = worldForFile();
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tbgw-tail-"));
}, 30000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function connectorConfig(port: number) {
  return {
    broker: { name: "Device broker", host: "127.0.0.1", port, clientId: `tbgw-tail-${process.pid}`, version: 4, security: { type: "anonymous" } },
    mapping: [
      {
        topicFilter: "sensors/+",
        subscriptionQos: 1,
        converter: {
          type: "json",
          deviceInfo: { deviceNameExpressionSource: "topic", deviceNameExpression: "sensors/(.*)", deviceProfileExpressionSource: "constant", deviceProfileExpression: "thermometer" },
          attributes: [],
          timeseries: [
            { type: "double", key: "temperature", value: "${temperature}" },
            { type: "integer", key: "seq", value: "${seq}" },
          ],
        },
      },
    ],
  };
}

/** A gateway whose MQTT connector reads the world's device broker, once its status socket (at `socket`) is up. */
async function startGatewayWithStatus(socket: string): Promise<Started> {
  const files = writeGatewayConfig(
    { ...mainConfig(world.platform.port, { type: "memory" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), status: { socket } },
    { "sensors.json": connectorConfig(world.device.port) },
    mkdtempSync(join(dir, "cfg-")),
  );
  return startGatewayFrom("source", files.configPath, { ready: /status socket on/ });
}

/** A `tb-gw tail` process whose stdout lines are parsed as they come. */
function startTail(args: string[], env: Record<string, string> = {}) {
  const proc: ChildProcess = spawn(BUN, [CLI, "tail", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const lines: any[] = [];
  let stderr = "";
  let buf = "";
  const waiters = new Set<() => void>();
  proc.stdout!.setEncoding("utf8").on("data", (c: string) => {
    buf += c;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
    for (const w of waiters) w();
  });
  proc.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
  return {
    proc,
    lines,
    stderr: () => stderr,
    exited,
    waitLines(n: number | ((lines: any[]) => boolean), timeoutMs = 10000): Promise<void> {
      const done = typeof n === "number" ? () => lines.length >= n : () => n(lines);
      return new Promise((resolve, reject) => {
        const check = () => {
          if (done()) {
            waiters.delete(check);
            clearTimeout(t);
            resolve();
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`tail printed ${lines.length} lines, not what the test waits for; stderr: ${stderr}; lines: ${JSON.stringify(lines).slice(-1000)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    },
  };
}

test("tail --json prints one object per datapoint, filtered, and exits 0 when the gateway stops", async () => {
  const socket = join(dir, "gw.sock");
  let gw: Started | undefined;
  let tail: ReturnType<typeof startTail> | undefined;
  try {
    gw = await startGatewayWithStatus(socket);
    tail = startTail(["--socket", socket, "--json", "--device", "boiler-*", "--key", "temp*"]);
    // The subscription is live once tail prints something: publish until it does.
    let seq = 0;
    const priming = setInterval(() => void world.deviceClient.publish("sensors/boiler-1", JSON.stringify({ temperature: 20, seq: ++seq })), 150);
    try {
      await tail.waitLines(1, 15000);
    } finally {
      clearInterval(priming);
    }
    // other devices and keys are filtered out; boiler-2's temperatures come through in order
    await world.deviceClient.publishAsync("sensors/pump-1", JSON.stringify({ temperature: 1, seq: 1 }), { qos: 1 });
    for (const t of [60.5, 61.25, 62]) await world.deviceClient.publishAsync("sensors/boiler-2", JSON.stringify({ temperature: t, seq: 100 }), { qos: 1 });
    const boiler2 = (all: any[]) => all.filter((l) => l.device === "boiler-2");
    await tail.waitLines((all) => boiler2(all).some((l) => l.value === 62));
    const atPlatform = () => world.harness.telemetry().filter((r) => r.device === "boiler-2" && r.key === "temperature");
    // what tail showed is exactly what the gateway delivered, line by line
    await world.harness.waitFor(() => atPlatform().length >= boiler2(tail!.lines).length && atPlatform().some((r) => r.value === 62), 10000, "boiler-2 at the platform");
    const mine = boiler2(tail.lines);
    expect(mine.map((l) => [l.ts, l.value])).toEqual(atPlatform().map((r) => [r.ts, r.value]));
    expect([...new Set(mine.map((l) => l.value))]).toEqual([60.5, 61.25, 62]);
    for (const l of mine) expect(l).toMatchObject({ type: "telemetry", device: "boiler-2", key: "temperature", connector: "Sensors" });
    for (const l of tail.lines) {
      expect(l.device).toMatch(/^boiler-/);
      expect(l.key).toBe("temperature");
    }

    await gw.stop("SIGTERM");
    expect(await tail.exited).toBe(0);
    expect(tail.stderr()).toContain("the gateway stopped");
  } finally {
    tail?.stop();
    await gw?.stop();
  }
}, 60000);

test("tail --json whose reader goes away (| head) ends quietly with 0; the gateway keeps running", async () => {
  const socket = join(dir, "gw-head.sock");
  let gw: Started | undefined;
  let tail: ReturnType<typeof startTail> | undefined;
  let seq = 0;
  const publishing = setInterval(() => void world.deviceClient.publish("sensors/boiler-9", JSON.stringify({ temperature: 30, seq: ++seq })), 100);
  try {
    gw = await startGatewayWithStatus(socket);
    tail = startTail(["--socket", socket, "--json"]);
    await tail.waitLines(1, 15000);
    // the reader goes away; tail's next writes fail (EPIPE) while data keeps coming
    tail.proc.stdout!.destroy();
    expect(await tail.exited).toBe(0);
    expect(tail.stderr()).not.toContain("the gateway stopped");
    expect(gw.proc.exitCode).toBeNull();
  } finally {
    clearInterval(publishing);
    tail?.stop();
    await gw?.stop();
  }
}, 60000);

test("tail with no gateway running says so and exits 1", async () => {
  const empty = mkdtempSync(join(dir, "rt-"));
  mkdirSync(join(empty, "x"));
  const viaDefault = startTail(["--json"], { XDG_RUNTIME_DIR: empty });
  const viaSocket = startTail(["--json", "--socket", join(empty, "nothing.sock")]);
  try {
    expect(await viaDefault.exited).toBe(1);
    expect(viaDefault.stderr()).toContain("no running gateway found");
    expect(viaDefault.stderr()).toContain("tb-gw run");
    expect(await viaSocket.exited).toBe(1);
    expect(viaSocket.stderr()).toContain(`cannot attach to the gateway at ${join(empty, "nothing.sock")}: no such socket`);
  } finally {
    viaDefault.stop();
    viaSocket.stop();
  }
}, 20000);
