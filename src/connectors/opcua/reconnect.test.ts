// Server restart mid-run: the connector must notice, remove its devices, and re-read and
// re-subscribe when the server is back on the same port, without being restarted itself.

import { expect, test } from "bun:test";
import { setStderrLogging } from "../../observe/logger.ts";
import { recordingContext } from "../../../test/support/context.ts";
import { OpcuaConnector } from "./connector.ts";
import { startOpcuaPeer, type OpcuaPeer } from "./peer/start.ts";
import { OpcuaConfigSchema } from "./schema.ts";

setStderrLogging(process.env.TEST_VERBOSE === "1");

for (const enableSubscriptions of [true, false]) {
  test(`server restart is survived (${enableSubscriptions ? "subscription" : "polling"})`, async () => {
    let peer: OpcuaPeer | undefined = await startOpcuaPeer();
    const port = peer.port;
    const config = OpcuaConfigSchema.parse({
      server: {
        url: peer.url,
        enableSubscriptions,
        pollPeriodInMillis: 200,
        subDataMinBatchCreationTimeMs: 20,
        timeoutInMillis: 1000,
        reconnectBackoffInitialDelay: 0.2,
        reconnectBackoffFactor: 1.5,
        reconnectRetriesCount: 3,
      },
      mapping: [
        {
          deviceNodePattern: "Root\\.Objects\\.MyObject",
          deviceInfo: { deviceNameExpression: "Restart Device" },
          attributes: [{ key: "power", type: "path", value: "${Power}" }],
          timeseries: [{ key: "temperature", type: "path", value: "${Temperature}" }],
        },
      ],
    });
    const ctx = recordingContext({ type: "opcua" });
    const c = new OpcuaConnector(config, ctx);
    try {
      await c.start();
      await ctx.waitFor((s) => s.some((d) => d.telemetry?.some((t) => "temperature" in t.values)), 10000, "first data");
      await peer.stop();
      peer = undefined;
      // Lost connection → devices removed from the platform.
      await ctx.waitFor(() => ctx.deleted.includes("Restart Device"), 15000, "delDevice after server stop");
      const mark = ctx.sent.length;
      peer = await startOpcuaPeer({}, port);
      await ctx.waitFor((s) => s.slice(mark).some((d) => d.telemetry?.some((t) => "temperature" in t.values)), 20000, "data after restart");
      expect(ctx.added.filter((a) => a.name === "Restart Device").length).toBe(2);
      expect(ctx.sent.slice(mark).find((d) => d.attributes && "power" in d.attributes)?.attributes).toEqual({ power: 1500 });
    } finally {
      await c.stop();
      await peer?.stop();
    }
  }, 60000);
}

test("polling slower than timeoutInMillis keeps its one connection between polls", async () => {
  // Upstream's sample polls every 5 s with timeoutInMillis 5000: the timeout bounds each request,
  // it is not a limit on how long the connection may stay quiet between polls.
  const peer = await startOpcuaPeer();
  const config = OpcuaConfigSchema.parse({
    server: { url: peer.url, enableSubscriptions: false, pollPeriodInMillis: 2500, timeoutInMillis: 1000 },
    mapping: [{ deviceNodePattern: "Root\\.Objects\\.MyObject", deviceInfo: { deviceNameExpression: "Idle Device" }, timeseries: [{ key: "temperature", type: "path", value: "${Temperature}" }] }],
  });
  const ctx = recordingContext({ type: "opcua" });
  const c = new OpcuaConnector(config, ctx);
  try {
    await c.start();
    await ctx.waitFor((s) => s.filter((d) => d.telemetry?.some((t) => "temperature" in t.values)).length >= 2, 20000, "two polls");
    expect({ added: ctx.added.length, deleted: ctx.deleted }).toEqual({ added: 1, deleted: [] });
  } finally {
    await c.stop();
    await peer.stop();
  }
}, 60000);

test("a server that stops answering (SIGSTOP) is noticed within a few timeouts; data resumes when it answers again", async () => {
  const peer = await startOpcuaPeer();
  const config = OpcuaConfigSchema.parse({
    server: { url: peer.url, enableSubscriptions: false, pollPeriodInMillis: 300, timeoutInMillis: 1000, reconnectBackoffInitialDelay: 0.2, reconnectRetriesCount: 2 },
    mapping: [{ deviceNodePattern: "Root\\.Objects\\.MyObject", deviceInfo: { deviceNameExpression: "Frozen Device" }, timeseries: [{ key: "temperature", type: "path", value: "${Temperature}" }] }],
  });
  const ctx = recordingContext({ type: "opcua" });
  const c = new OpcuaConnector(config, ctx);
  const pid = peer.proc.proc.pid!;
  try {
    await c.start();
    await ctx.waitFor((s) => s.length > 0, 10000, "first poll");
    const t0 = Date.now();
    process.kill(pid, "SIGSTOP");
    await ctx.waitFor(() => ctx.deleted.includes("Frozen Device"), 15000, "delDevice while the server is frozen");
    const noticed = Date.now() - t0;
    process.kill(pid, "SIGCONT");
    const mark = ctx.sent.length;
    await ctx.waitFor((s) => s.length > mark, 15000, "data after the server answers again");
    // a request timeout (1 s), a keep-alive period and some slack for a loaded machine
    expect(noticed).toBeLessThan(8000);
  } finally {
    process.kill(pid, "SIGCONT");
    await c.stop();
    await peer.stop();
  }
}, 60000);
