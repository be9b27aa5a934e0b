// The compiled gateway killed with SIGKILL at 20 seeded random moments under 2,500 datapoints/s
// (500 device messages/s, 10 devices) and started again each time, sqlite storage: nothing is
// lost, and the duplicates (records sent but not yet marked sent when the kill came, and device
// messages stored but not yet acknowledged to the device broker) stay bounded and are reported.
// bench/kill-loop.ts runs the same with any count and seed.

import { beforeAll, expect, test } from "bun:test";
import { gatewayBinary } from "../support/gateway.ts";
import { runKillLoop } from "../support/kill-loop-scenario.ts";

beforeAll(() => {
  gatewayBinary();
}, 180_000);

test("compiled gateway killed -9 at 20 random moments under load, sqlite storage: nothing lost, duplicates bounded", async () => {
  const kills = 20;
  const f = await runKillLoop({ kills, seed: 17, rate: 500, from: "binary", minRunMs: 300, maxRunMs: 1500 });
  const report = `${kills} kills: ${f.sent} messages sent, lost ${f.lost}, duplicates ${f.duplicates} (${(f.duplicates / kills).toFixed(0)} per kill), out of order ${f.outOfOrder}, all delivered ${f.settleMs} ms after the last start`;
  console.log(report);
  if (f.lost) throw new Error(`${report}\n${f.missing}\n${f.output.slice(-3000)}`);
  expect(f.problems).toEqual([]);
  expect(f.outOfOrder, "first deliveries out of per-device order").toBe(0);
  // a kill can repeat at most what was in flight: a platform batch plus unacknowledged device messages
  expect(f.duplicates).toBeLessThan(kills * 1000);
}, 120_000);
