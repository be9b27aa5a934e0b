// The status endpoint against the real engine: a Gateway with no connectors sending to a real
// Mosquitto where the test plays the platform; data enters through the pipeline.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { platformForFile } from "../../../test/support/platform.ts";
import { createEngine, whenPlatformReady } from "../../bench/engine.ts";
import type { Gateway } from "../../core/gateway.ts";
import { setStderrLogging, logger } from "../logger.ts";
import { fetchStatus, findSocket, subscribe } from "../tail/client.ts";
import { discoveryFile, readDiscovery } from "./paths.ts";
import type { ServerLine } from "./protocol.ts";
import { StatusServer } from "./server.ts";
import { StatusSchema } from "../../config/main-schema.ts";

const platform = platformForFile();
let dir: string;
let gw: Gateway;
let server: StatusServer;
const savedRuntime = process.env.XDG_RUNTIME_DIR;

beforeAll(async () => {
  setStderrLogging(false);
  dir = mkdtempSync(join(tmpdir(), "tbgw-status-"));
  process.env.XDG_RUNTIME_DIR = join(dir, "run");
  mkdirSync(process.env.XDG_RUNTIME_DIR, { mode: 0o700 });
  gw = createEngine({ host: "127.0.0.1", port: platform.port, storage: "memory", dir });
  await gw.start();
  await whenPlatformReady(gw);
  server = new StatusServer(gw, StatusSchema.parse({ http: { enabled: true, port: 0 }, metrics: { enabled: true, port: 0 } }), logger("status-test"));
  await server.start();
}, 30000);

// the status server and the engine go before the platform the engine sends to
platform.beforeDispose(async () => {
  await server?.stop().catch(() => {});
  await gw?.stop().catch(() => {});
});
afterAll(() => {
  process.env.XDG_RUNTIME_DIR = savedRuntime;
  rmSync(dir, { recursive: true, force: true });
  setStderrLogging(true);
});

function acked(datapoints: number): Promise<void> {
  return new Promise((resolve) => {
    let n = 0;
    const off = gw.events.on((e) => {
      if (e.kind === "acked" && (n += e.datapoints) >= datapoints) {
        off();
        resolve();
      }
    });
  });
}

test("socket is owner/group only, discoverable, and streams the uplink it carries", async () => {
  const path = server.socketPath!;
  expect(path).toBe(join(process.env.XDG_RUNTIME_DIR!, "tb-gw.sock"));
  expect(statSync(path).mode & 0o777).toBe(0o660);
  expect(readDiscovery(discoveryFile(dir))?.socket).toBe(path);
  expect(findSocket({})).toBe(path);
  expect(findSocket({ configDir: dir })).toBe(path);

  const lines: ServerLine[] = [];
  let gotUplink!: () => void;
  const uplinkSeen = new Promise<void>((r) => (gotUplink = r));
  const sub = await subscribe(path, ["uplink"], (l) => {
    lines.push(l);
    if (l.kind === "uplink") gotUplink();
  });
  try {
    // the subscription is registered once the server has read our request; status goes the same way
    await fetchStatus(path);
    const done = acked(3);
    await gw.pipeline.send("line-1", "id-1", "test", { deviceName: "boiler", telemetry: [{ values: { temp: 71.5, pressure: 2 } }], attributes: { model: "B1" } });
    await uplinkSeen;
    const up = lines.find((l) => l.kind === "uplink")!;
    expect(up).toMatchObject({ kind: "uplink", connector: "line-1", device: "boiler", telemetry: 2, attributes: 1 });
    expect((up as { data: any }).data.telemetry[0].values).toEqual({ temp: 71.5, pressure: 2 });
    expect(lines.some((l) => l.kind !== "uplink")).toBe(false);
    await done;
    await platform.harness.waitFor((h) => h.telemetry().filter((r) => r.device === "boiler").length >= 2, 10000, "telemetry at the platform");

    const s = await fetchStatus(path);
    expect(s.platform.state).toBe("connected");
    // only this test's connector and device are asserted exactly: other tests share the gateway
    expect(s.deviceCount).toBe(s.devices.length);
    expect(s.devices.find((d: { name: string }) => d.name === "boiler")).toMatchObject({ name: "boiler", connector: "line-1" });
    expect(s.connectors.find((c) => c.name === "line-1")).toMatchObject({ received: 1, converted: 3, stored: 1, dropped: 0, sent: 3, acked: 3 });
    expect(s.totals.acked).toBeGreaterThanOrEqual(3);
    expect(s.storage).toMatchObject({ kind: "memory", depth: 0 });

    const metrics = await (await fetch(`http://127.0.0.1:${server.httpPorts.metrics}/metrics`)).text();
    expect(metrics).toContain('tbgw_converted_datapoints_total{connector="line-1"} 3');
    expect(metrics).toContain('tbgw_acked_datapoints_total{connector="line-1"} 3');
    expect(metrics).toContain('tbgw_sent_datapoints_total{connector="line-1"} 3');
    expect(metrics).toContain(`tbgw_devices ${s.deviceCount}`);
    const http = (await (await fetch(`http://127.0.0.1:${server.httpPorts.status}/status`)).json()) as { deviceCount: number };
    expect(http.deviceCount).toBe(s.deviceCount);
  } finally {
    sub.close();
  }
}, 20000);

test("a bad request gets an error line, not a dropped connection", async () => {
  const { connect, onLines } = await import("../tail/client.ts");
  const s = await connect(server.socketPath!);
  try {
    const first = new Promise<ServerLine>((r) => onLines(s, r));
    s.write("hello\n");
    expect(await first).toMatchObject({ kind: "error" });
  } finally {
    s.destroy();
  }
});

test("a second server finds the default socket taken and uses its own", async () => {
  const other = new StatusServer(gw, StatusSchema.parse({}), logger("status-test-2"));
  await other.start();
  try {
    expect(other.socketPath).toBeDefined();
    expect(other.socketPath).not.toBe(server.socketPath);
    expect((await fetchStatus(other.socketPath!)).pid).toBe(process.pid);
  } finally {
    await other.stop();
  }
  expect(existsSync(other.socketPath!)).toBe(false);
  // stopping the second one leaves the first one's socket alone
  expect((await fetchStatus(server.socketPath!)).kind).toBe("status");
});

/** Reads NDJSON lines of a streaming HTTP response as they arrive. */
function ndjson(res: Response) {
  const lines: any[] = [];
  const waiters = new Set<() => void>();
  const reader = res.body!.getReader();
  const done = (async () => {
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
      for (const w of waiters) w();
    }
  })();
  return {
    lines,
    until: (ok: (l: any[]) => boolean, what: string, timeoutMs = 10000) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`/events never gave ${what}; got ${JSON.stringify(lines).slice(-800)}`)), timeoutMs);
        const check = () => {
          if (!ok(lines)) return;
          clearTimeout(t);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
    close: async () => {
      await reader.cancel().catch(() => {});
      await done;
    },
  };
}

test("HTTP /events streams the chosen kinds; sent and acked are counted per connector in status and /metrics", async () => {
  const base = `http://127.0.0.1:${server.httpPorts.status}`;
  const before = await fetchStatus(server.socketPath!);
  const prev = (name: string) => before.connectors.find((c) => c.name === name) ?? { sent: 0, acked: 0 };
  const ctrl = new AbortController();
  const uplinks = ndjson(await fetch(`${base}/events?kinds=uplink,acked`, { signal: ctrl.signal }));
  const all = ndjson(await fetch(`${base}/events`));
  try {
    // unfiltered: a status line comes first, at once
    await all.until((l) => l.some((x) => x.kind === "status"), "a status line");
    const done = acked(5);
    // one batch carries devices of two connectors; each connector gets its own datapoints
    await gw.pipeline.send("line-2", "id-2", "test", { deviceName: "pump-a", telemetry: [{ values: { rpm: 1200, on: true } }] });
    await gw.pipeline.send("line-3", "id-3", "test", { deviceName: "fan-b", telemetry: [{ values: { speed: 3 } }], attributes: { vendor: "F", size: "L" } });
    await uplinks.until((l) => l.filter((x) => x.kind === "uplink").length >= 2 && l.some((x) => x.kind === "acked"), "two uplinks and an ack");
    expect(uplinks.lines.filter((x) => x.kind === "uplink").map((x) => [x.connector, x.device, x.telemetry, x.attributes])).toEqual([
      ["line-2", "pump-a", 2, 0],
      ["line-3", "fan-b", 1, 2],
    ]);
    expect(uplinks.lines.every((x) => x.kind === "uplink" || x.kind === "acked")).toBe(true);
    expect(uplinks.lines.every((x) => typeof x.at === "number")).toBe(true);
    // acked events on the wire never carry the in-process batch
    expect(uplinks.lines.find((x) => x.kind === "acked")).not.toHaveProperty("batch");
    await done;
    await all.until((l) => l.filter((x) => x.kind === "uplink").length >= 2, "the same uplinks");

    const s = await fetchStatus(server.socketPath!);
    const c2 = s.connectors.find((c) => c.name === "line-2")!;
    const c3 = s.connectors.find((c) => c.name === "line-3")!;
    expect([c2.sent - prev("line-2").sent, c2.acked - prev("line-2").acked]).toEqual([2, 2]);
    expect([c3.sent - prev("line-3").sent, c3.acked - prev("line-3").acked]).toEqual([3, 3]);
    // per-connector series sum to the totals
    const metrics = await (await fetch(`http://127.0.0.1:${server.httpPorts.metrics}/metrics`)).text();
    for (const fam of ["tbgw_sent_datapoints_total", "tbgw_acked_datapoints_total"]) {
      const series = [...metrics.matchAll(new RegExp(`^${fam}\\{connector="([^"]*)"\\} (\\d+)$`, "gm"))];
      expect(series.map((m) => m[1])).toContain("line-3");
      const total = fam.startsWith("tbgw_sent") ? s.totals.sent : s.totals.acked;
      expect(series.reduce((a, m) => a + Number(m[2]), 0)).toBe(total);
    }
    expect(metrics).toContain(`tbgw_acked_datapoints_total{connector="line-3"} ${c3.acked}`);
  } finally {
    ctrl.abort();
    await uplinks.close();
    await all.close();
  }
  // with every client gone the gateway no longer builds uplink events for nobody
  const deadline = Date.now() + 5000;
  while (gw.events.wants("uplink") && Date.now() < deadline) await Bun.sleep(20);
  expect(gw.events.wants("uplink")).toBe(false);
}, 20000);

test("a subscriber that does not keep up loses events, counted, instead of growing the gateway's memory", async () => {
  const path = server.socketPath!;
  const BULK = 20000;
  let delivered = 0;
  let lost = 0;
  /** Events emitted up to and including the first marker that got through. */
  let emitted = 0;
  let markers = 0;
  let markerSeen!: () => void;
  const done = new Promise<void>((r) => (markerSeen = r));
  let finished = false;
  const emitMarker = () => gw.events.emit({ kind: "downlink", what: "rpc", device: "marker", data: ++markers });
  const sub = await subscribe(path, ["downlink"], (l) => {
    if (finished) return;
    if (l.kind === "lost") lost += l.count;
    else if (l.kind === "downlink" && l.device === "marker") {
      // markers are numbered: the ones after this one do not count
      delivered++;
      emitted = BULK + (l.data as number);
      finished = true;
      markerSeen();
    } else if (l.kind === "downlink") {
      delivered++;
      // the backlog shrinks as we read; a marker goes through once it is under the bound
      emitMarker();
    }
  });
  try {
    await fetchStatus(path);
    // the emitting loop never yields, so the server's queue for this reader must hold or drop
    // all of it: ~6 MB of events against a 1 MB bound
    const data = "x".repeat(300);
    for (let i = 0; i < BULK; i++) {
      gw.events.emit({ kind: "downlink", what: "rpc", device: "bulk", data });
    }
    await done;
    expect(lost).toBeGreaterThan(0);
    // every event was either delivered or counted as lost, in order
    expect(delivered + lost).toBe(emitted);
    expect(delivered).toBeLessThan(emitted);
  } finally {
    sub.close();
  }
}, 20000);
