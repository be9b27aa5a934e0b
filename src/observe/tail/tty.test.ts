// The Ink view of `tb-gw tail` in a real pseudo-terminal: tmux (its own server socket, a fixed
// 110×24 window) runs tail against a running gateway whose MQTT connector reads a live device feed
// on a real Mosquitto; capture-pane shows what a user would see. Once from source, once from the
// single executable built by build.ts.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { testBinary } from "../../../test/support/binary.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, CLI, mainConfig, startGateway, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { worldForFile } from "../../../test/gateway/fixtures.ts";
import type { Started } from "../../../test/support/process.ts";

const world = worldForFile();
let dir: string;
let tmuxConf: string;
let serial = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tbgw-tty-"));
  // remain-on-exit keeps the pane after tail ends, so its last words can be read
  tmuxConf = join(dir, "tmux.conf");
  writeFileSync(tmuxConf, "set -g remain-on-exit on\nset -g status off\n");
}, 30000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function connectorConfig(port: number) {
  return {
    broker: { name: "Device broker", host: "127.0.0.1", port, clientId: `tbgw-tty-${process.pid}-${serial}`, version: 4, security: { type: "anonymous" } },
    mapping: [
      {
        topicFilter: "plant/+",
        subscriptionQos: 1,
        converter: {
          type: "json",
          deviceInfo: { deviceNameExpressionSource: "topic", deviceNameExpression: "plant/(.*)", deviceProfileExpressionSource: "constant", deviceProfileExpression: "boiler" },
          attributes: [],
          timeseries: [
            { type: "double", key: "temperature", value: "${temperature}" },
            { type: "integer", key: "pressure", value: "${pressure}" },
          ],
        },
      },
    ],
  };
}

/** A tmux server of our own running one command in a fixed-size window. */
function tmux(command: string[]) {
  const server = `tbgw-tty-${process.pid}-${++serial}`;
  const run = (...args: string[]) => spawnSync("tmux", ["-L", server, "-f", tmuxConf, ...args], { encoding: "utf8" });
  // the wrapper prints tail's exit status into the terminal once it ends: an event on screen
  const quoted = ["sh", "-c", '"$@"; echo "[tail exited with $?]"', "sh", ...command].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const r = run("new-session", "-d", "-s", "tail", "-x", "110", "-y", "24", "-e", "TERM=xterm-256color", quoted);
  if (r.status !== 0) throw new Error(`tmux new-session failed: ${r.stderr}`);
  const screen = () => run("capture-pane", "-p", "-t", "tail").stdout;
  return {
    screen,
    keys: (...k: string[]) => run("send-keys", "-t", "tail", ...k),
    /** Waits until tail has ended and returns its exit status. */
    async exitStatus(timeoutMs = 10000): Promise<number> {
      const s = await this.until("tail to exit", (x) => /\[tail exited with \d+\]/.test(x), timeoutMs);
      return Number(/\[tail exited with (\d+)\]/.exec(s)![1]);
    },
    /** Polls the screen (tail redraws every 250 ms) until `ok` holds; fails with the last screen. */
    async until(what: string, ok: (screen: string) => boolean, timeoutMs = 15000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = screen();
        if (ok(s)) return s;
        if (Date.now() > deadline) throw new Error(`tail's terminal never showed ${what}; last screen:\n${s}`);
        await Bun.sleep(100);
      }
    },
    kill: () => run("kill-server"),
  };
}

async function gatewayWithFeed(): Promise<{ gw: Started; socket: string; stopFeed: () => void }> {
  const socket = join(dir, `gw-${serial}.sock`);
  const files = writeGatewayConfig(
    { ...mainConfig(world.platform.port, { type: "memory" }, [{ name: "Plant", type: "mqtt", configuration: "plant.json" }]), status: { socket } },
    { "plant.json": connectorConfig(world.device.port) },
    mkdtempSync(join(dir, "cfg-")),
  );
  const gw = await startGateway(files.configPath);
  // a live feed: boiler-7 reports every 200 ms with a rising temperature, pump-3 a constant
  let n = 0;
  const feed = setInterval(() => {
    n++;
    void world.deviceClient.publish("plant/boiler-7", JSON.stringify({ temperature: 80 + n / 4, pressure: 3 }));
    void world.deviceClient.publish("plant/pump-3", JSON.stringify({ temperature: 41.5, pressure: 7 }));
  }, 200);
  return { gw, socket, stopFeed: () => clearInterval(feed) };
}

const row = (device: string, key: string, value: string) => new RegExp(`^${device}\\s+${key}\\s+${value.replace(/\./g, "\\.")}\\s+\\d`, "m");

test("the Ink view draws header and live rows in a terminal, switches views, filters, and quits on q", async () => {
  const { gw, socket, stopFeed } = await gatewayWithFeed();
  const term = tmux([BUN, CLI, "tail", "--socket", socket, "--key", "temp*"]);
  try {
    let s = await term.until("a boiler-7 temperature row", (x) => row("boiler-7", "temperature", "8\\d(\\.\\d+)?").test(x));
    expect(s).toMatch(/tb-gw tail platform ● connected 127\.0\.0\.1:\d+/);
    expect(s).toMatch(/storage memory \d+ waiting/);
    expect(s).toMatch(/DEVICE\s+KEY\s+VALUE\s+AGE/);
    // the header is one line even when it is wider than the terminal (cut, not wrapped)
    expect(s).toMatch(/^tb-gw tail [^\n]*\n t telemetry/);
    // pump-3 and boiler-7 report in the same tick: wait for a second boiler row too, else the first
    // screen with pump-3 on it may hold one boiler row only (seen on a loaded machine)
    const boilerRows = (x: string) => [...x.matchAll(/^boiler-7\s+temperature\s+([\d.]+)/gm)].map((m) => Number(m[1]));
    s = await term.until("pump-3 and two boiler-7 rows", (x) => row("pump-3", "temperature", "41.5").test(x) && boilerRows(x).length > 1);
    // --key temp* leaves pressure out; the window is 24 lines high and tail fills it, no more
    expect(s).not.toContain("pressure");
    expect(s.split("\n").length).toBeLessThanOrEqual(25);
    // newest first: the first boiler row carries the highest temperature on screen
    const temps = boilerRows(s);
    expect(temps.length).toBeGreaterThan(1);
    expect(temps[0]).toBe(Math.max(...temps));

    term.keys("r");
    s = await term.until("the RPC view", (x) => /DEVICE\s+METHOD\s+VALUE/.test(x));
    expect(s).toContain("nothing yet");
    term.keys("t");
    await term.until("telemetry again", (x) => /DEVICE\s+KEY\s+VALUE/.test(x) && row("boiler-7", "temperature", "8\\d(\\.\\d+)?").test(x));
    term.keys("Space");
    await term.until("paused", (x) => /PAUSED \(\d+ new\)/.test(x));
    term.keys("q");
    expect(await term.exitStatus()).toBe(0);
  } finally {
    stopFeed();
    term.kill();
    await gw.stop();
  }
}, 60000);

test("the single executable draws the same view and says so when the gateway stops", async () => {
  const bin = testBinary().path;
  const { gw, socket, stopFeed } = await gatewayWithFeed();
  // run from an empty folder: nothing may come from the source tree
  const term = tmux(["sh", "-c", `cd '${mkdtempSync(join(dir, "cwd-"))}' && exec "$0" tail --socket "$1" --device 'boiler-*'`, bin, socket]);
  try {
    const s = await term.until("boiler-7 rows", (x) => row("boiler-7", "temperature", "8\\d(\\.\\d+)?").test(x) && row("boiler-7", "pressure", "3").test(x));
    expect(s).toMatch(/platform ● connected/);
    expect(s).not.toContain("pump-3");
    stopFeed();
    await gw.stop("SIGTERM");
    expect(await term.exitStatus()).toBe(0);
    expect(term.screen()).toContain("tb-gw tail: the gateway stopped");
  } finally {
    stopFeed();
    term.kill();
    await gw.stop();
  }
}, 90000);

test("Ctrl-C in the Ink view ends tail with exit 0 and leaves the terminal usable", async () => {
  const { gw, socket, stopFeed } = await gatewayWithFeed();
  const term = tmux([BUN, CLI, "tail", "--socket", socket]);
  try {
    await term.until("rows", (x) => row("pump-3", "pressure", "7").test(x));
    term.keys("C-c");
    expect(await term.exitStatus()).toBe(0);
    // the wrapper's line is printed below the last frame: Ink released the terminal
    const s = term.screen();
    expect(s.indexOf("[tail exited with 0]")).toBeGreaterThan(s.indexOf("pump-3"));
  } finally {
    stopFeed();
    term.kill();
    await gw.stop();
  }
}, 60000);
