// The XMPP connector in-process (a recording context stands in for the core) against Prosody and
// slixmpp devices: which messages become data, downlink only to devices heard from since start
// (to the JID they wrote from), one message per updated key, and nothing after stop.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { recordingContext } from "../../../test/support/context.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { XmppConnector } from "./connector.ts";
import { XmppConfigSchema } from "./schema.ts";
import { startDevice } from "./test/device.ts";
import { startProsody, type Prosody } from "./test/prosody.ts";

let prosody: Prosody;
beforeAll(async () => {
  prosody = await startProsody({ accounts: { gateway: "gw-secret", meter: "meter-secret", stranger: "stranger-secret" } });
}, 60_000);
afterAll(() => prosody?.stop());

function connector() {
  const config = XmppConfigSchema.parse({
    server: { jid: "gateway@localhost", password: "gw-secret", host: "127.0.0.1", port: prosody.port, ca_cert: prosody.certPath },
    devices: [
      {
        jid: "meter@localhost/m1",
        deviceNameExpression: "[0:5]",
        deviceTypeExpression: "meter",
        timeseries: [{ key: "kwh", value: "[6:]", type: "float" }],
        attributeUpdates: [
          { attributeOnThingsBoard: "tariff", valueExpression: "tariff=${attributeValue}" },
          { attributeOnThingsBoard: "limit", valueExpression: "limit=${attributeValue}" },
        ],
        serverSideRpc: [{ methodRPC: "reset", valueExpression: "reset ${params.register}" }],
      },
    ],
  });
  const ctx = recordingContext({ name: "XMPP", type: "xmpp" });
  return { c: new XmppConnector(config, ctx), ctx };
}

test("text messages from a configured JID become data; other JIDs are ignored; downlink goes to the JID heard from", async () => {
  const { c, ctx } = connector();
  const meter = startDevice("meter@localhost/m1", "meter-secret", prosody.port, "gateway@localhost");
  const stranger = startDevice("stranger@localhost/s", "stranger-secret", prosody.port, "gateway@localhost");
  try {
    await c.start();
    await meter.ready();
    await stranger.ready();
    // Before the meter says anything, its JID is not known: the RPC is answered with the reason.
    expect(await c.onRpc({ device: "MTR-1", id: 1, method: "reset", params: { register: 2 } })).toEqual({ error: "MTR-1 has sent no message since the gateway started, so its JID is not known", success: false });

    // The gateway may still be logging in: repeat until the first message is converted.
    for (let i = 0; i < 50 && ctx.sent.length === 0; i++) {
      stranger.send("MTR-9 1.0");
      meter.send("MTR-1 1234.5");
      await ctx.waitFor((s) => s.length > 0, 500, "meter data").catch(() => {});
    }
    expect(ctx.sent[0]).toEqual({ deviceName: "MTR-1", deviceType: "meter", telemetry: [{ ts: expect.any(Number), values: { kwh: 1234.5 } }] });
    expect(ctx.sent.some((d) => d.deviceName === "MTR-9")).toBe(false);

    await c.onAttributeUpdate({ device: "MTR-1", data: { tariff: "night", limit: 40, unknown: 1 } });
    await meter.waitFor((m) => m.body === "limit=40", "both attribute messages");
    expect(meter.received().map((m) => m.body)).toEqual(["tariff=night", "limit=40"]);
    expect(await c.onRpc({ device: "MTR-1", id: 2, method: "reset", params: { register: 2 } })).toEqual({ success: true });
    await meter.waitFor((m) => m.body === "reset 2", "the RPC message");
    expect(await c.onRpc({ device: "MTR-1", id: 3, method: "nope", params: {} })).toBeUndefined();
    expect(stranger.received()).toEqual([]);
  } finally {
    await c.stop();
    await meter.stop();
    await stranger.stop();
  }
}, 60_000);

test("after stop nothing more is handed to the gateway; stop twice is fine", async () => {
  const { c, ctx } = connector();
  const meter = startDevice("meter@localhost/m1", "meter-secret", prosody.port, "gateway@localhost");
  try {
    await c.start();
    await meter.ready();
    for (let i = 0; i < 50 && ctx.sent.length === 0; i++) {
      meter.send("MTR-2 1.5");
      await ctx.waitFor((s) => s.length > 0, 500, "meter data").catch(() => {});
    }
    expect(ctx.sent.length).toBeGreaterThan(0);
    await c.stop();
    await c.stop();
    const count = ctx.sent.length;
    meter.send("MTR-2 2.5");
    meter.send("MTR-2 3.5");
    // The session is closed: Prosody answers or drops; give it a moment by a round trip of the device.
    await waitUntil(() => meter.output().split("SENT 1").length > 2, 10_000, "the device's sends");
    expect(ctx.sent.length).toBe(count);
  } finally {
    await c.stop();
    await meter.stop();
  }
}, 60_000);

test("storage refusing data: messages are held and stored in order once it takes them again", async () => {
  const { c, ctx } = connector();
  const accept = ctx.sendData.bind(ctx);
  let refuse = true;
  let refused = 0;
  ctx.sendData = async (data) => {
    if (refuse) {
      refused++;
      return "NOT_STORED";
    }
    return accept(data);
  };
  const meter = startDevice("meter@localhost/m1", "meter-secret", prosody.port, "gateway@localhost");
  try {
    await c.start();
    await meter.ready();
    // The first message may arrive before the gateway's session: send until storage was offered one.
    for (let i = 0; i < 50 && refused === 0; i++) {
      meter.send("MTR-3 0.5");
      await waitUntil(() => refused > 0, 500, "a refused offer").catch(() => {});
    }
    for (let i = 1; i <= 20; i++) meter.send(`MTR-3 ${i}.5`);
    await waitUntil(() => refused >= 3, 10_000, "storage refused a few times");
    refuse = false;
    await ctx.waitFor((s) => s.some((d) => d.telemetry?.[0]?.values.kwh === 20.5), 15_000, "every message stored");
    // (only this test's device name: a message another test's device sent may still be delivered)
    const values = ctx.sent.filter((d) => d.deviceName === "MTR-3").map((d) => d.telemetry![0]!.values.kwh as number).filter((v) => v >= 1);
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => i + 1.5));
  } finally {
    await c.stop();
    await meter.stop();
  }
}, 60_000);
