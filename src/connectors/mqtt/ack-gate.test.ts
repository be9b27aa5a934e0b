// The gathering window of the ack gate, timed: a message after a quiet spell goes to storage at
// the end of its turn; one that follows closely gathers for the window. The window is made long
// (300 ms) so that "at once" and "after the window" cannot be confused on a loaded machine.

import { expect, test } from "bun:test";
import type { IncomingMessage } from "../../common/mqtt/client.ts";
import type { ConnectorContext } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { Logger } from "../../observe/logger.ts";
import { AckGate, type MessageSink } from "./ack-gate.ts";

const WINDOW_MS = 300;

function rig() {
  const stored: Array<{ at: number; devices: string[] }> = [];
  const acked: string[] = [];
  const ctx = {
    log: new Logger("test", "NONE"),
    sendData: async (data: ConvertedData | ConvertedData[]) => {
      stored.push({ at: performance.now(), devices: (Array.isArray(data) ? data : [data]).map((d) => d.deviceName) });
      return "SUCCESS";
    },
  } as unknown as ConnectorContext;
  const reads: string[] = [];
  const gate = new AckGate(ctx, 20_000, { pauseReading: () => reads.push("pause"), resumeReading: () => reads.push("resume") }, WINDOW_MS);
  const sink: MessageSink = { convertInto: (batch, topic) => void batch.push({ deviceName: topic, telemetry: [{ ts: 1, values: { v: 1 } }] }) };
  const receive = (device: string) => gate.receive({ topic: device, payload: Buffer.from("{}"), qos: 1, retain: false, ack: () => acked.push(device) } as IncomingMessage, sink);
  return { gate, stored, acked, reads, receive };
}

const until = async (cond: () => boolean, ms = 5_000) => {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await Bun.sleep(2);
};

test("a message after a quiet spell is stored and acknowledged at once; the next one gathers for the window", async () => {
  const r = rig();
  const t0 = performance.now();
  r.receive("first");
  await until(() => r.acked.length === 1);
  expect(r.stored.map((s) => s.devices)).toEqual([["first"]]);
  expect(r.stored[0]!.at - t0).toBeLessThan(WINDOW_MS / 2);
  expect(r.reads).toEqual([]); // no window: reading was never paused

  // follows closely: a window opens (reading paused), and both messages of it go together after it
  const t1 = performance.now();
  r.receive("second");
  r.receive("third");
  expect(r.reads).toEqual(["pause"]);
  await until(() => r.acked.length === 3);
  expect(r.stored.map((s) => s.devices)).toEqual([["first"], ["second", "third"]]);
  expect(r.stored[1]!.at - t1).toBeGreaterThanOrEqual(WINDOW_MS - 5);
  await r.gate.drain();
});

test("quiet again after a window: the next message goes at once", async () => {
  const r = rig();
  r.receive("a");
  await until(() => r.acked.length === 1);
  r.receive("b"); // closely after: gathers
  await until(() => r.acked.length === 2);
  await Bun.sleep(WINDOW_MS + 50);
  const t = performance.now();
  r.receive("c");
  await until(() => r.acked.length === 3);
  expect(r.stored.map((s) => s.devices)).toEqual([["a"], ["b"], ["c"]]);
  expect(r.stored[2]!.at - t).toBeLessThan(WINDOW_MS / 2);
  await r.gate.drain();
});
