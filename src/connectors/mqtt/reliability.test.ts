// Reliability: malformed payloads, broker restart, protocol versions, acks only after storage,
// the connector contract (stop twice, nothing after stop) and TLS — against real Mosquitto.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { startMosquitto, type Broker } from "../../../test/support/mosquitto.ts";
import { recordingContext } from "../../../test/support/context.ts";
import { freePort } from "../../../test/support/ports.ts";
import type { ConvertedData } from "../../core/model.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import type { MqttConnector } from "./connector.ts";
import { descriptor } from "./index.ts";
import { MqttConfigSchema } from "./schema.ts";

function config(port: number, extra: Record<string, unknown> = {}, broker: Record<string, unknown> = {}) {
  return MqttConfigSchema.parse({
    broker: { host: "127.0.0.1", port, clientId: `rel-${Math.random().toString(36).slice(2)}`, ...broker },
    mapping: [
      {
        topicFilter: "rel/+/data",
        subscriptionQos: 1,
        converter: {
          type: "json",
          deviceInfo: { deviceNameExpressionSource: "topic", deviceNameExpression: "rel/([^/]+)/data" },
          timeseries: [{ type: "double", key: "v", value: "${v}" }],
        },
      },
    ],
    ...extra,
  });
}

async function start(cfg: ReturnType<typeof config>, ctx = recordingContext({ type: "mqtt" })) {
  const conn = (await descriptor.create(cfg, ctx)) as MqttConnector;
  await conn.start();
  await conn.whenSubscribed();
  return { ctx, conn };
}

const valuesOf = (sent: ConvertedData[]) => sent.flatMap((d) => d.telemetry ?? []).map((e) => e.values.v);

let broker: Broker;
let dev: MqttClient;
beforeAll(async () => {
  broker = await startMosquitto();
  dev = await mqtt.connectAsync(broker.url);
});
afterAll(async () => {
  await dev?.endAsync(true);
  await broker?.dispose();
});

describe("mqtt connector reliability", () => {
  test("malformed payloads are dropped and counted, logged once per topic per episode, and the connector goes on", async () => {
    const lines: LogRecord[] = [];
    const remove = addLogSink((r) => lines.push(r));
    const { ctx, conn } = await start(config(broker.port));
    try {
      await dev.publishAsync("rel/d1/data", "{not json", { qos: 1 });
      await dev.publishAsync("rel/d1/data", "{not json either", { qos: 1 });
      await dev.publishAsync("rel/d1/data", JSON.stringify({ other: 1 }), { qos: 0 });
      await dev.publishAsync("rel/d1/data", JSON.stringify({ v: 5 }), { qos: 1 });
      await ctx.waitFor((s) => valuesOf(s).includes(5), 10000, "the good message");
      expect(conn.droppedMessages).toBe(3);
      const drops = lines.filter((l) => l.message.startsWith("dropped message on rel/d1/data"));
      expect(drops.map((l) => l.message)).toEqual(["dropped message on rel/d1/data: payload is not valid JSON"]);
      // the connector's statistics count every one
      expect(ctx.dropped).toBe(3);
    } finally {
      await conn.stop();
      remove();
    }
    // at stop, the open episode is closed with its count per reason
    expect(lines.map((l) => l.message)).toContain("dropped 2 more message(s) on rel/d1/data in 0 s after the first: 1 × payload is not valid JSON; 1 × none of the configured keys found in the message");
  }, 20000);

  test("broker restart: the connector reconnects, resubscribes and resumes", async () => {
    const own = await startMosquitto();
    const { ctx, conn } = await start(config(own.port));
    let client: MqttClient | undefined;
    try {
      client = await mqtt.connectAsync(own.url);
      await client.publishAsync("rel/r1/data", JSON.stringify({ v: 1 }), { qos: 1 });
      await ctx.waitFor((s) => valuesOf(s).includes(1), 10000, "before restart");
      await client.endAsync(true);
      await own.stop();
      const resubscribed = conn.nextSubscribed();
      await own.start();
      await resubscribed;
      client = await mqtt.connectAsync(own.url);
      await client.publishAsync("rel/r1/data", JSON.stringify({ v: 2 }), { qos: 1 });
      await ctx.waitFor((s) => valuesOf(s).includes(2), 10000, "after restart");
    } finally {
      await client?.endAsync(true);
      await conn.stop();
      await own.dispose();
    }
  }, 30000);

  for (const version of [3, 4, 5]) {
    test(`MQTT protocol version ${version}`, async () => {
      const { ctx, conn } = await start(config(broker.port, {}, { version }));
      try {
        await dev.publishAsync("rel/v/data", JSON.stringify({ v: version * 10 }), { qos: 1 });
        await ctx.waitFor((s) => valuesOf(s).includes(version * 10), 10000, `v${version} message`);
      } finally {
        await conn.stop();
      }
    }, 20000);
  }

  test("QoS 1 messages are acknowledged only after sendData resolved: an unacked message is redelivered", async () => {
    const clientId = `ack-${Math.random().toString(36).slice(2)}`;
    const persistent = { version: 4, cleanSession: false, clientId };
    let release!: () => void;
    const stored = new Promise<void>((r) => (release = r));
    const slow = recordingContext({ type: "mqtt" });
    const fastSend = slow.sendData;
    slow.sendData = async (d) => {
      const status = await fastSend(d);
      await stored; // storage that has not committed yet
      return status;
    };
    const a = await start(config(broker.port, {}, persistent), slow);
    await dev.publishAsync("rel/ack/data", JSON.stringify({ v: 77 }), { qos: 1 });
    await slow.waitFor((s) => valuesOf(s).includes(77), 10000, "message handed to storage");
    // the gateway "crashes" before storage confirmed: the connection drops without the ack
    await (a.conn as unknown as { conn: { close(force: boolean): Promise<void> } }).conn.close(true);
    release();
    await a.conn.stop();
    const b = await start(config(broker.port, {}, persistent));
    try {
      await b.ctx.waitFor((s) => valuesOf(s).includes(77), 10000, "redelivery of the unacknowledged message");
    } finally {
      await b.conn.stop();
    }
    // control: once storage confirmed, the ack went out and a new session gets nothing again
    const c = await start(config(broker.port, {}, persistent));
    try {
      await dev.publishAsync("rel/ack/data", JSON.stringify({ v: 78 }), { qos: 1 });
      await c.ctx.waitFor((s) => valuesOf(s).includes(78), 10000, "fresh message");
      expect(valuesOf(c.ctx.sent)).not.toContain(77);
    } finally {
      await c.conn.stop();
    }
  }, 30000);

  test("a device broker allowing one unacknowledged message in flight: every message stored, in order (batching waits for no ack it holds back)", async () => {
    const strict = await startMosquitto({ extraConfig: "max_inflight_messages 1" });
    const pub = await mqtt.connectAsync(strict.url);
    const { ctx, conn } = await start(config(strict.port));
    try {
      const n = 300;
      // one message at a time: light traffic, so the connector gathers batches (see ack-gate.ts)
      for (let i = 1; i <= n; i++) await pub.publishAsync("rel/strict/data", JSON.stringify({ v: i }), { qos: 1 });
      await ctx.waitFor((s) => valuesOf(s).length >= n, 30000, `${n} messages`);
      expect(valuesOf(ctx.sent)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    } finally {
      await conn.stop();
      await pub.endAsync(true);
      await strict.dispose();
    }
  }, 60000);

  test("shared subscription ($share/<group>/<filter>): converters see the published topic, so topic regexes name the device", async () => {
    const shared = config(broker.port, {
      mapping: [
        {
          topicFilter: "$share/tbgw/rel/+/data",
          subscriptionQos: 1,
          converter: {
            type: "json",
            // the regex is written for the published topic; it would not match the filter text
            deviceInfo: { deviceNameExpressionSource: "topic", deviceNameExpression: "^rel/([^/]+)/data$" },
            timeseries: [{ type: "double", key: "v", value: "${v}" }],
          },
        },
      ],
    });
    const { ctx, conn } = await start(shared);
    try {
      await dev.publishAsync("rel/shared-7/data", JSON.stringify({ v: 7 }), { qos: 1 });
      await ctx.waitFor((s) => valuesOf(s).includes(7), 10000, "message through the shared subscription");
      expect(ctx.sent.find((d) => d.telemetry?.[0]?.values.v === 7)?.deviceName).toBe("shared-7");
    } finally {
      await conn.stop();
    }
  }, 20000);

  test("contract: start, stop twice, nothing sent through ctx after stop", async () => {
    const { ctx, conn } = await start(config(broker.port));
    await dev.publishAsync("rel/c/data", JSON.stringify({ v: 1 }), { qos: 1 });
    await ctx.waitFor((s) => s.length === 1, 10000, "first message");
    await conn.stop();
    await conn.stop();
    const count = ctx.sent.length;
    // a round trip through the broker after the publish proves it was routed before we look
    await dev.subscribeAsync("rel/c/data", { qos: 1 });
    const echoed = new Promise<void>((r) => dev.once("message", () => r()));
    await dev.publishAsync("rel/c/data", JSON.stringify({ v: 2 }), { qos: 1 });
    await echoed;
    await dev.unsubscribeAsync("rel/c/data");
    expect(ctx.sent.length).toBe(count);
    await expect(conn.onRpc({ device: "x", id: 1, method: "get", params: "requestTopicExpression=a;" })).resolves.toEqual({
      error: expect.stringMatching(/not connected/),
    });
  }, 20000);

  test("TLS with a self-signed CA (openssl) and CA verification", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-mqtt-tls-"));
    const sh = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    sh(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=tbgw test CA", "-keyout", "ca.key", "-out", "ca.crt"]);
    sh(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr"]);
    writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
    sh(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "server.crt"]);
    // mosquitto reads certificates after dropping root to its own user
    chmodSync(dir, 0o755);
    for (const f of ["ca.crt", "server.crt", "server.key"]) chmodSync(join(dir, f), 0o644);
    const tlsPort = await freePort();
    const tlsBroker = await startMosquitto({
      extraConfig: [`listener ${tlsPort} 127.0.0.1`, "allow_anonymous true", `cafile ${join(dir, "ca.crt")}`, `certfile ${join(dir, "server.crt")}`, `keyfile ${join(dir, "server.key")}`].join("\n"),
    });
    const ctx = recordingContext({ type: "mqtt", configDir: dir });
    const cfg = config(tlsPort, {}, { security: { type: "certificates", pathToCACert: "ca.crt" } });
    let conn: MqttConnector | undefined;
    try {
      ({ conn } = await start(cfg, ctx));
      await dev.endAsync(true);
      dev = await mqtt.connectAsync(tlsBroker.url);
      await dev.publishAsync("rel/tls/data", JSON.stringify({ v: 443 }), { qos: 1 });
      await ctx.waitFor((s) => valuesOf(s).includes(443), 10000, "message over TLS");
    } finally {
      await conn?.stop();
      await dev.endAsync(true);
      dev = await mqtt.connectAsync(broker.url);
      await tlsBroker.dispose();
    }
  }, 30000);
});
