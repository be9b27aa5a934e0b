// A server that refuses subscriptions (CreateSubscription → BadTooManySubscriptions): with
// enableSubscriptions on, the connector must still deliver data by polling, and say so once per device.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { setStderrLogging } from "../../observe/logger.ts";
import { recordingContext } from "../../../test/support/context.ts";
import { OpcuaConnector } from "./connector.ts";
import { startOpcuaPeer, type OpcuaPeer } from "./peer/start.ts";
import { OpcuaConfigSchema } from "./schema.ts";

setStderrLogging(process.env.TEST_VERBOSE === "1");

let peer: OpcuaPeer;
beforeAll(async () => {
  peer = await startOpcuaPeer({ OPCUA_MAX_SUBSCRIPTIONS: "0" });
}, 40000);
afterAll(async () => {
  await peer?.stop();
});

test("subscriptions refused by the server: data flows by polling, logged once per device", async () => {
  const config = OpcuaConfigSchema.parse({
    server: { url: peer.url, enableSubscriptions: true, pollPeriodInMillis: 150, subDataMinBatchCreationTimeMs: 20 },
    mapping: [
      {
        deviceNodePattern: "Root\\.Objects\\.MyObject",
        deviceInfo: { deviceNameExpression: "Refused Device" },
        attributes: [{ key: "power", type: "path", value: "${Power}" }],
        timeseries: [{ key: "temperature", type: "path", value: "${Temperature}" }],
      },
    ],
  });
  const ctx = recordingContext({ type: "opcua" });
  const warnings: string[] = [];
  const log = ctx.log as unknown as { warn: (m: string) => void };
  log.warn = (m) => void warnings.push(m);
  const c = new OpcuaConnector(config, ctx);
  try {
    await c.start();
    // The peer's temperature rises every 100 ms; several distinct values prove repeated polls.
    const temperatures = () => new Set(ctx.sent.flatMap((d) => (d.telemetry ?? []).map((t) => t.values.temperature)).filter((v) => v !== undefined));
    await ctx.waitFor(() => temperatures().size >= 4, 10000, "4 distinct polled temperatures");
    expect(ctx.sent.find((d) => d.attributes && "power" in d.attributes)?.attributes).toEqual({ power: 1500 });
    const fallback = warnings.filter((w) => w.includes("subscription failed"));
    expect(fallback).toHaveLength(1);
    expect(fallback[0]).toContain('"Refused Device"');
    expect(fallback[0]).toContain("BadTooManySubscriptions");
    expect(fallback[0]).toContain("polling every 150 ms");
  } finally {
    await c.stop();
  }
}, 30000);
