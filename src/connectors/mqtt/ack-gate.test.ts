// The gathering window of the ack gate: a message after a quiet spell goes to storage at the end
// of its turn; one that follows closely gathers for the window. A window shows synchronously as a
// pause of reading (the gate holds the socket's data back meanwhile), so no check depends on how
// fast a loaded machine runs; the only timed checks are lower bounds (a quiet spell, a window).

import { expect, test } from "bun:test";
import type { IncomingMessage } from "../../common/mqtt/client.ts";
import type { ConnectorContext } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { Logger } from "../../observe/logger.ts";
import { AckGate, type MessageSink } from "./ack-gate.ts";

const WINDOW_MS = 300;

/**
 * A gate with a storage and a reading control that record what they see: `reads` the pauses and
 * resumes of reading, `log` those with "in" (a message reaches the gate) and "store" (a batch goes
 * to storage) in order. `onResume` runs when reading resumes (a socket delivering what it held).
 */
function rig(windowMs = WINDOW_MS, onResume: () => void = () => {}) {
  const stored: Array<{ at: number; devices: string[] }> = [];
  const acked: string[] = [];
  const reads: string[] = [];
  const log: string[] = [];
  const ctx = {
    log: new Logger("test", "NONE"),
    sendData: async (data: ConvertedData | ConvertedData[]) => {
      log.push("store");
      stored.push({ at: performance.now(), devices: (Array.isArray(data) ? data : [data]).map((d) => d.deviceName) });
      return "SUCCESS";
    },
  } as unknown as ConnectorContext;
  const reading = (what: "pause" | "resume") => {
    reads.push(what);
    log.push(what);
    if (what === "resume") onResume();
  };
  const gate = new AckGate(ctx, 20_000, { pauseReading: () => reading("pause"), resumeReading: () => reading("resume") }, windowMs);
  const sink: MessageSink = { convertInto: (batch, topic) => void batch.push({ deviceName: topic, telemetry: [{ ts: 1, values: { v: 1 } }] }) };
  const receive = (device: string) => {
    log.push("in");
    gate.receive({ topic: device, payload: Buffer.from("{}"), qos: 1, retain: false, ack: () => acked.push(device) } as IncomingMessage, sink);
  };
  return { gate, stored, acked, reads, log, receive };
}

const until = async (cond: () => boolean, ms = 5_000) => {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await Bun.sleep(2);
};

test("a message after a quiet spell is stored and acknowledged at once; the next one gathers for the window", async () => {
  const r = rig();
  r.receive("first");
  expect(r.reads).toEqual([]); // no window: reading is not paused
  await until(() => r.acked.length === 1);
  expect(r.stored.map((s) => s.devices)).toEqual([["first"]]);
  expect(r.reads).toEqual([]);

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
  expect(r.reads).toEqual(["pause", "resume"]); // b's window
  await Bun.sleep(WINDOW_MS + 50);
  r.receive("c");
  expect(r.reads).toEqual(["pause", "resume"]); // no window for c
  await until(() => r.acked.length === 3);
  expect(r.stored.map((s) => s.devices)).toEqual([["a"], ["b"], ["c"]]);
  await r.gate.drain();
});

test("while traffic lasts, a window follows the previous one at once; every 4th leaves reading open after it; reading stays open when traffic stops", async () => {
  // a socket: messages sent while reading is paused wait, and come after it resumes
  const waiting: string[] = [];
  const r = rig(50, () => {
    const now = waiting.splice(0);
    queueMicrotask(() => now.forEach(r.receive));
  });
  const paused = () => r.reads.at(-1) === "pause";
  const sent: string[] = [];
  for (let i = 0; i < 45; i++) {
    const m = `m${i}`;
    sent.push(m);
    if (paused()) waiting.push(m);
    else queueMicrotask(() => r.receive(m));
    await Bun.sleep(10);
  }
  await until(() => r.stored.flatMap((s) => s.devices).length === sent.length);
  await until(() => !paused()); // traffic stopped: the last window ends, reads nothing and is not followed
  await Bun.sleep(60); // longer than a window: a followed one would have paused reading again by now
  await r.gate.drain();

  expect(r.stored.flatMap((s) => s.devices)).toEqual(sent);
  // what came right after each batch went to storage: "pause" when the next window followed at
  // once, "in" when reading was left open and the next message opened a window itself
  const afterStore = r.log.flatMap((e, i) => (e === "store" && i + 1 < r.log.length ? [r.log[i + 1]!] : []));
  const followed = afterStore.filter((e) => e === "pause").length;
  expect(followed).toBeGreaterThanOrEqual(3);
  expect(afterStore.join(" ")).not.toContain("pause pause pause pause"); // every 4th is a probe
  // traffic stopped: reading is open, whether the last window was followed (it then ended with
  // nothing read and resumed) or was a probe (reading left open after its batch)
  expect(r.log.lastIndexOf("resume")).toBeGreaterThan(r.log.lastIndexOf("pause"));
  expect(paused()).toBe(false);
});
