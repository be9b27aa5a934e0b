// The Ink view rendered by ink-testing-library: rows, header, mode keys and pause.
import { expect, test } from "bun:test";
import { createElement } from "react";
import { render } from "ink-testing-library";
import { TailStore } from "./store.ts";
import { TailView, formatAge } from "./view.ts";
import { rowsOf } from "./rows.ts";
import type { StatusSnapshot } from "../status/protocol.ts";

const NOW = 1_800_000_000_000;

const status: StatusSnapshot = {
  kind: "status", at: NOW, pid: 1, version: "0.1.0", configPath: "/etc/tb-gw/tb_gateway.json", uptimeSeconds: 5,
  platform: { state: "connected", endpoint: "tb.example:1883" },
  storage: { kind: "sqlite", depth: 42, full: false },
  connectors: [], devices: [], deviceCount: 2,
  totals: { received: 0, converted: 0, stored: 0, sent: 0, acked: 0, dropped: 0, sentMessages: 0 },
  rates: { receivedMsgs: 12.5, convertedDatapoints: 25, sentMsgs: 3, ackedDatapoints: 25 },
  errors: [],
};

/** Ink renders on its own schedule: wait (bounded) until the frame shows what we expect. */
async function frameWith(lastFrame: () => string | undefined, text: string): Promise<string> {
  const until = Date.now() + 3000;
  for (;;) {
    const f = lastFrame() ?? "";
    if (f.includes(text) || Date.now() > until) return f;
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("shows the header and one row per datapoint, newest first, and switches views by key", async () => {
  const store = new TailStore("/run/tb-gw.sock");
  const app = render(createElement(TailView, { store, height: 10, width: 100, now: () => NOW }));
  try {
    store.setStatus(status);
    store.push(rowsOf({ kind: "uplink", connector: "Sensors", device: "boiler-1", telemetry: 2, attributes: 0, at: NOW - 5000, data: { telemetry: [{ ts: NOW - 2500, values: { temperature: 71.5, pressure: 2 } }] } }));
    store.push(rowsOf({ kind: "downlink", what: "rpc", device: "pump-7", at: NOW - 100, data: { id: 4, method: "setSpeed", params: { rpm: 900 } } }));
    const f = await frameWith(app.lastFrame, "pressure");
    expect(f).toContain("● connected");
    expect(f).toContain("tb.example:1883");
    expect(f).toContain("storage sqlite 42 waiting");
    expect(f).toContain("12.5 msg/s in");
    const lines = f.split("\n");
    const temp = lines.findIndex((l) => /boiler-1\s+temperature\s+71\.5\s+2\.5 s/.test(l));
    const pres = lines.findIndex((l) => /boiler-1\s+pressure\s+2\s+2\.5 s/.test(l));
    expect(temp).toBeGreaterThan(0);
    expect(pres).toBeGreaterThan(0);
    expect(pres).toBeLessThan(temp); // newest (last pushed) first
    expect(f).not.toContain("setSpeed");

    app.stdin.write("r");
    const rpc = await frameWith(app.lastFrame, "setSpeed");
    expect(rpc).toMatch(/pump-7\s+setSpeed\s+\{"rpm":900\}\s+100 ms/);
    expect(rpc).not.toContain("temperature");

    app.stdin.write("t");
    app.stdin.write(" ");
    await frameWith(app.lastFrame, "PAUSED");
    store.push(rowsOf({ kind: "uplink", connector: "Sensors", device: "boiler-9", telemetry: 1, attributes: 0, at: NOW, data: { telemetry: [{ ts: NOW, values: { flow: 3 } }] } }));
    const paused = await frameWith(app.lastFrame, "PAUSED (1 new)");
    expect(paused).toContain("PAUSED (1 new)");
    expect(paused).not.toContain("boiler-9");
    app.stdin.write(" ");
    expect(await frameWith(app.lastFrame, "boiler-9")).toContain("boiler-9");
  } finally {
    app.unmount();
  }
});

test("ages read like a person would say them", () => {
  expect(formatAge(250)).toBe("250 ms");
  expect(formatAge(2500)).toBe("2.5 s");
  expect(formatAge(42_000)).toBe("42 s");
  expect(formatAge(180_000)).toBe("3 min");
});
