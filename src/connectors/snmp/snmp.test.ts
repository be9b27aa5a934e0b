// SNMP connector against a real Debian snmpd on a free loopback port; expected values come from
// the Net-SNMP command-line tools asking the same agent.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { recordingContext } from "../../../test/support/context.ts";
import { freeUdpPort } from "../../../test/support/ports.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { SnmpConnector } from "./connector.ts";
import { SnmpConfigSchema } from "./schema.ts";
import { snmpTool, snmpWalkPairs, startSnmpd, V3_USER, type Snmpd } from "./snmpd.testutil.ts";
import { waitUntil } from "../../../test/support/poll.ts";

const SYS_DESCR = "1.3.6.1.2.1.1.1.0";
const SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0";
const SYS_CONTACT = "1.3.6.1.2.1.1.4.0";
const SYS_LOCATION = "1.3.6.1.2.1.1.6.0";
const IF_TABLE = "1.3.6.1.2.1.2.2";

let agent: Snmpd;
beforeAll(async () => {
  agent = await startSnmpd();
});
afterAll(async () => {
  await agent?.stop();
});

function unquote(s: string): string {
  return s.trim().replace(/^"|"$/g, "");
}

function device(extra: Record<string, unknown>) {
  return { deviceName: "router", deviceType: "snmp", ip: "127.0.0.1", port: agent.port, community: "public", timeout: 2, pollPeriod: 60000, attributes: [], telemetry: [], ...extra };
}

async function withConnector(devices: unknown[], body: (c: SnmpConnector, ctx: ReturnType<typeof recordingContext>, logs: LogRecord[]) => Promise<void>) {
  const ctx = recordingContext({ type: "snmp" });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => logs.push(r));
  const c = new SnmpConnector(SnmpConfigSchema.parse({ devices }), ctx);
  try {
    await c.start();
    await body(c, ctx, logs);
  } finally {
    await c.stop();
    off();
  }
}

describe("snmp connector against snmpd", () => {
  test("v2c get, multiget, getnext, walk, bulkwalk, bulkget and table", async () => {
    await withConnector(
      [
        device({
          attributes: [
            { key: "descr", method: "get", oid: SYS_DESCR },
            { key: "both", method: "multiget", oid: [SYS_DESCR, SYS_OBJECT_ID] },
            { key: "next", method: "getnext", oid: SYS_DESCR },
            { key: "bulk", method: "bulkget", scalarOid: [SYS_DESCR, SYS_OBJECT_ID], repeatingOid: [SYS_DESCR], maxListSize: 3 },
          ],
          telemetry: [
            { key: "system", method: "walk", oid: "1.3.6.1.2.1.1" },
            { key: "leaf", method: "walk", oid: SYS_DESCR },
            { key: "ifaces", method: "bulkwalk", oid: [IF_TABLE + ".1.2"], bulkSize: 2 },
            { key: "table", method: "table", oid: IF_TABLE },
          ],
        }),
      ],
      async (_c, ctx) => {
        await ctx.waitFor((s) => s.length > 0, 10000, "first poll");
        const d = ctx.sent[0]!;
        const descr = unquote(snmpTool("snmpget", agent.port, [SYS_DESCR]));
        const objectId = snmpTool("snmpget", agent.port, [SYS_OBJECT_ID]).trim().replace(/^\./, "");
        expect(d.deviceName).toBe("router");
        expect(d.attributes!.descr).toBe(descr);
        expect(d.attributes!.both).toBe(`${descr},${objectId}`);
        expect(d.attributes!.next).toEqual({ [SYS_OBJECT_ID]: objectId });
        // GetBulk non-repeaters are GETNEXTs: the scalars come back as the OIDs following the ones asked.
        const bulk = d.attributes!.bulk as Record<string, string>;
        expect(Object.keys(bulk)).toEqual([SYS_OBJECT_ID, "1.3.6.1.2.1.1.3.0"]);
        expect(bulk[SYS_OBJECT_ID]).toBe(objectId);

        const values = d.telemetry![0]!.values;
        const systemOids = snmpWalkPairs(agent.port, "1.3.6.1.2.1.1").map(([o]) => o);
        expect(Object.keys(values.system as object).sort()).toEqual(systemOids.sort());
        expect((values.system as Record<string, string>)[SYS_DESCR]).toBe(descr);
        expect(values.leaf).toEqual({ [SYS_DESCR]: descr });

        const ifDescr = snmpWalkPairs(agent.port, IF_TABLE + ".1.2");
        expect(values.ifaces).toEqual(Object.fromEntries(ifDescr));
        // Upstream merges table rows into one dict: the last row's index and columns win.
        const lastIndex = ifDescr.at(-1)![0].split(".").at(-1)!;
        const table = values.table as Record<string, string>;
        expect(table["0"]).toBe(lastIndex);
        expect(table["2"]).toBe(ifDescr.at(-1)![1]);
        const columns = new Set(snmpWalkPairs(agent.port, IF_TABLE).map(([o]) => o.split(".")[9]!));
        expect(new Set(Object.keys(table).filter((k) => k !== "0"))).toEqual(columns);
      },
    );
  }, 20000);

  test("v1 walks with GETNEXT and answers the same as v2c", async () => {
    await withConnector(
      [
        device({
          version: "1",
          attributes: [{ key: "bulk", method: "bulkget", scalarOid: [SYS_DESCR] }],
          telemetry: [{ key: "ifDescr", method: "walk", oid: IF_TABLE + ".1.2" }],
        }),
      ],
      async (_c, ctx) => {
        await ctx.waitFor((s) => s.length > 0, 10000, "v1 poll");
        const d = ctx.sent[0]!;
        expect(d.telemetry![0]!.values.ifDescr).toEqual(Object.fromEntries(snmpWalkPairs(agent.port, IF_TABLE + ".1.2")));
        expect(Object.keys(d.attributes!.bulk as object)).toEqual([SYS_OBJECT_ID]);
      },
    );
  }, 20000);

  test("shared attribute update and RPC write with SET; reserved get RPC reads", async () => {
    const location = `rack-${Math.random().toString(36).slice(2, 8)}`;
    const contact = `ops-${Math.random().toString(36).slice(2, 8)}`;
    await withConnector(
      [
        device({
          community: "private",
          attributeUpdateRequests: [{ attributeFilter: "^location$", method: "set", oid: SYS_LOCATION }],
          serverSideRpcRequests: [
            { requestFilter: "setContact", method: "set", oid: SYS_CONTACT },
            { requestFilter: "getContact", method: "get", oid: SYS_CONTACT },
          ],
        }),
      ],
      async (c) => {
        await c.onAttributeUpdate({ device: "router", data: { location, other: "ignored" } });
        expect(unquote(snmpTool("snmpget", agent.port, [SYS_LOCATION]))).toBe(location);

        expect(await c.onRpc({ device: "router", id: 1, method: "setContact", params: contact })).toEqual({ result: contact });
        expect(unquote(snmpTool("snmpget", agent.port, [SYS_CONTACT]))).toBe(contact);
        expect(await c.onRpc({ device: "router", id: 2, method: "getContact", params: {} })).toEqual({ result: contact });
        expect(await c.onRpc({ device: "router", id: 3, method: "get", params: `method=get;oid=${SYS_LOCATION};` })).toEqual({ result: location });
        const viaReservedSet = `${location}-2`;
        expect(await c.onRpc({ device: "router", id: 4, method: "set", params: `method=set;oid=${SYS_LOCATION};value=${viaReservedSet};` })).toEqual({ result: viaReservedSet });
        expect(unquote(snmpTool("snmpget", agent.port, [SYS_LOCATION]))).toBe(viaReservedSet);
        // Writing a read-only object comes back as an RPC error, not a crash.
        const bad = (await c.onRpc({ device: "router", id: 5, method: "set", params: `method=set;oid=${SYS_DESCR};value=x;` })) as { success: boolean; error: string };
        expect(bad.success).toBe(false);
        expect(bad.error).toMatch(/NotWritable|NoAccess|ReadOnly/i);
        expect(await c.onRpc({ device: "router", id: 6, method: "unknownMethod", params: {} })).toBeUndefined();
      },
    );
  }, 20000);

  test("v3 authPriv (SHA/AES) get and set; a wrong pass phrase is logged and sends nothing", async () => {
    const contact = `v3-${Math.random().toString(36).slice(2, 8)}`;
    await withConnector(
      [
        device({
          version: "3",
          v3: { user: V3_USER.user, level: "authPriv", authProtocol: "sha", authKey: V3_USER.authKey, privProtocol: "aes", privKey: V3_USER.privKey },
          attributes: [{ key: "descr", method: "get", oid: SYS_DESCR }],
          serverSideRpcRequests: [{ requestFilter: "setContact", method: "set", oid: SYS_CONTACT }],
        }),
        device({
          deviceName: "wrong-key",
          version: "3",
          timeout: 1,
          v3: { user: V3_USER.user, level: "authPriv", authKey: "not-the-key", privKey: V3_USER.privKey },
          attributes: [{ key: "descr", method: "get", oid: SYS_DESCR }],
        }),
      ],
      async (c, ctx, logs) => {
        await ctx.waitFor((s) => s.some((d) => d.deviceName === "router"), 10000, "v3 poll");
        expect(ctx.sent.find((d) => d.deviceName === "router")!.attributes!.descr).toBe(unquote(snmpTool("snmpget", agent.port, [SYS_DESCR])));
        expect(await c.onRpc({ device: "router", id: 1, method: "setContact", params: contact })).toEqual({ result: contact });
        expect(unquote(snmpTool("snmpget", agent.port, [SYS_CONTACT]))).toBe(contact);
        await waitUntil(() => logs.some((l) => l.level === "ERROR" && l.message.includes("wrong-key")), 8000, "error log for wrong key");
        expect(ctx.sent.some((d) => d.deviceName === "wrong-key")).toBe(false);
      },
    );
  }, 20000);

  test("an unreachable agent times out, logs once, sends nothing and does not hold up others", async () => {
    const deadPort = await freeUdpPort();
    await withConnector(
      [
        device({ deviceName: "dead", port: deadPort, timeout: 0.3, pollPeriod: 100, attributes: [{ key: "descr", method: "get", oid: SYS_DESCR }] }),
        device({ deviceName: "alive", pollPeriod: 100, attributes: [{ key: "descr", method: "get", oid: SYS_DESCR }] }),
      ],
      async (_c, ctx, logs) => {
        await ctx.waitFor((s) => s.filter((d) => d.deviceName === "alive").length >= 5, 10000, "five polls of the live agent");
        await waitUntil(() => logs.filter((l) => l.message.includes("dead")).length > 0, 5000, "timeout log");
        // Several dead polls have passed by now (0.3 s timeout + 0.1 s period), still only one log line.
        await new Promise((r) => setTimeout(r, 1000));
        expect(logs.filter((l) => l.level === "ERROR" && l.message.includes("dead")).length).toBe(1);
        expect(logs.find((l) => l.message.includes("dead"))!.message).toMatch(/no answer from 127\.0\.0\.1:\d+ within 0\.3 s/);
        expect(ctx.sent.some((d) => d.deviceName === "dead")).toBe(false);
      },
    );
  }, 20000);

  test("many devices are polled concurrently", async () => {
    const n = 60;
    const devices = Array.from({ length: n }, (_, i) => device({ deviceName: `agent-${i}`, telemetry: [{ key: "uptime", method: "get", oid: "1.3.6.1.2.1.1.3.0" }] }));
    await withConnector(devices, async (_c, ctx) => {
      await ctx.waitFor((s) => new Set(s.map((d) => d.deviceName)).size === n, 10000, `all ${n} devices`);
      for (const d of ctx.sent) expect(typeof d.telemetry![0]!.values.uptime).toBe("number");
    });
  }, 20000);

  test("nothing is sent after stop, and stop is idempotent", async () => {
    const ctx = recordingContext({ type: "snmp" });
    const c = new SnmpConnector(SnmpConfigSchema.parse({ devices: [device({ pollPeriod: 20, telemetry: [{ key: "t", method: "walk", oid: "1.3.6.1.2.1.2" }] })] }), ctx);
    await c.start();
    await ctx.waitFor((s) => s.length >= 2, 10000, "two polls");
    await c.stop();
    const count = ctx.sent.length;
    await c.stop();
    await new Promise((r) => setTimeout(r, 300));
    expect(ctx.sent.length).toBe(count);
  }, 20000);
});
