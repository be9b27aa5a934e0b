// A custom XMPP uplink converter (upstream's `devices[].converter` naming a class) from
// <config folder>/extensions/xmpp/, against Prosody with slixmpp devices: built with the device
// entry, called with (deviceConfig, body text); its legacy dict reaches storage, order is kept
// with an async convert, a message it throws on is dropped and logged once until the error changes,
// and the device it names is known for downlink. A device whose class is missing is one error.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { XmppConnector } from "./connector.ts";
import { XmppConfigSchema } from "./schema.ts";
import { startDevice } from "./test/device.ts";
import { startProsody, type Prosody } from "./test/prosody.ts";

let prosody: Prosody;
beforeAll(async () => {
  prosody = await startProsody({ accounts: { gateway: "gw-secret", meter: "meter-secret", ghost: "ghost-secret" } });
}, 60_000);
afterAll(() => prosody?.stop());

const CONVERTER = `
export class KeyValueXmppConverter {
  constructor(config, log) { this.type = config.deviceTypeExpression; this.log = log; }
  async convert(config, body) {
    await new Promise((r) => setTimeout(r, body.startsWith("slow") ? 50 : 0));
    if (body.includes("boom")) throw new Error("cannot read " + config.jid);
    const [name, ...pairs] = body.split(" ");
    return { deviceName: name, deviceType: this.type, telemetry: pairs.map((p) => ({ [p.split("=")[0]]: Number(p.split("=")[1]) })) };
  }
}
`;

test("devices[].converter names a class in extensions/xmpp: it converts message bodies; errors once; a missing class is one error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-xmpp-ext-"));
  mkdirSync(join(dir, "extensions", "xmpp"), { recursive: true });
  writeFileSync(join(dir, "extensions", "xmpp", "kv.js"), CONVERTER);
  const config = XmppConfigSchema.parse({
    server: { jid: "gateway@localhost", password: "gw-secret", host: "127.0.0.1", port: prosody.port, ca_cert: prosody.certPath },
    devices: [
      { jid: "meter@localhost/m1", deviceNameExpression: "x", deviceTypeExpression: "kv-meter", converter: "KeyValueXmppConverter", attributeUpdates: [{ attributeOnThingsBoard: "mode", valueExpression: "mode=${attributeValue}" }] },
      { jid: "ghost@localhost/g", deviceNameExpression: "x", deviceTypeExpression: "x", converter: "NoSuchXmppConverter" },
    ],
  });
  const ctx = recordingContext({ name: "XMPP custom", type: "xmpp", configDir: dir });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => r.scope.includes("XMPP custom") && logs.push(r));
  const c = new XmppConnector(config, ctx);
  const meter = startDevice("meter@localhost/m1", "meter-secret", prosody.port, "gateway@localhost");
  const ghost = startDevice("ghost@localhost/g", "ghost-secret", prosody.port, "gateway@localhost");
  try {
    await c.start();
    await meter.ready();
    await ghost.ready();
    // the gateway may still be logging in: repeat until the first message is converted
    for (let i = 0; i < 50 && ctx.sent.length === 0; i++) {
      meter.send("M1 n=0");
      await ctx.waitFor((s) => s.length > 0, 500, "meter data").catch(() => {});
    }
    const before = ctx.sent.length;
    ghost.send("G1 n=1");
    meter.send("boom 1");
    meter.send("boom 2");
    meter.send("slow-M1 n=1");
    meter.send("M1 n=2");
    await ctx.waitFor((s) => s.length >= before + 2, 20_000, "the messages after the bad ones");
    expect(ctx.sent.slice(before)).toEqual([
      { deviceName: "slow-M1", deviceType: "kv-meter", telemetry: [{ values: { n: 1 } }] },
      { deviceName: "M1", deviceType: "kv-meter", telemetry: [{ values: { n: 2 } }] },
    ]);
    expect(ctx.sent.some((d) => d.deviceName === "G1")).toBe(false);
    const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^device ghost@localhost\/g: converter NoSuchXmppConverter cannot be used \(custom converter class NoSuchXmppConverter not found in .*extensions\/xmpp; the folder exports: KeyValueXmppConverter \(kv\.js\)\); this device's messages are dropped$/);
    expect(errors[1]).toBe("device meter@localhost/m1: custom converter KeyValueXmppConverter failed: cannot read meter@localhost/m1; this message is dropped, the connector goes on (logged again only when the error changes)");
    expect(logs.some((l) => l.message.includes("KeyValueXmppConverter works again"))).toBe(true);
    // the device the converter named is known for downlink
    await c.onAttributeUpdate({ device: "M1", data: { mode: "eco" } });
    await meter.waitFor((m) => m.body === "mode=eco", "the attribute update at the meter", 15_000);
  } finally {
    off();
    await c.stop();
    await meter.stop();
    await ghost.stop();
  }
}, 90_000);
