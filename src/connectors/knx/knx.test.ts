// The KNX connector against Debian's knxd (dummy bus, tunnelling server in a network namespace of
// the test's own, reached over a veth pair; see test/netns.ts): values read
// through the tunnel render as upstream (xknx) renders each DPT, values written by knxtool are
// reported, attribute updates and RPC reach the bus (seen by knxtool vbusmonitor1 and by the
// responder), an address shared by two keys is read once per poll, and a dead address delays no
// other device.

import { afterEach, describe, expect, test } from "bun:test";
import { recordingContext, type RecordingContext } from "../../../test/support/context.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { KnxConnector } from "./connector.ts";
import { KnxConfigSchema } from "./schema.ts";
import { listenSilently, startKnxd, type Knxd } from "./test/knxd.ts";
import { createTestNetns } from "./test/netns.ts";
import { TYPES } from "./test/dpt-cases.ts";

let knxd: Knxd | undefined;
let connector: KnxConnector | undefined;
afterEach(async () => {
  await connector?.stop();
  await knxd?.stop();
  connector = knxd = undefined;
});

function configFor(at: { host: string; port: number }, devices: unknown[], extra: Record<string, unknown> = {}, client: Record<string, unknown> = {}) {
  // readTimeout 10 s: an answer slowed by a loaded machine is still an answer (upstream waits 2 s)
  return KnxConfigSchema.parse({ client: { type: "TUNNELING", gatewayIp: at.host, gatewayPort: at.port, readTimeout: 10, ...client }, devices, ...extra });
}

async function start(cfg: ReturnType<typeof configFor>): Promise<RecordingContext> {
  const ctx = recordingContext({ type: "knx", name: "KNX test" });
  connector = new KnxConnector(cfg, ctx);
  await connector.start();
  return ctx;
}

const telemetryOf = (ctx: RecordingContext, device: string) => Object.assign({}, ...ctx.sent.filter((d) => d.deviceName === device).flatMap((d) => (d.telemetry ?? []).map((t) => t.values)));
const attributesOf = (ctx: RecordingContext, device: string) => Object.assign({}, ...ctx.sent.filter((d) => d.deviceName === device).map((d) => d.attributes ?? {}));


describe("KNX connector against knxd", () => {
  test("each DPT read through the tunnel renders as upstream renders it; an address shared by two keys is read once per poll", async () => {
    knxd = await startKnxd({ ...Object.fromEntries(TYPES.map((t) => [t.ga, t.payload])), "2/0/1": "4b4e5820310000000000000000" });
    const device = {
      deviceInfo: { deviceNameExpressionSource: "expression", deviceNameExpression: "Room ${2/0/1}", deviceNameDataType: "string" },
      pollPeriod: 60_000,
      attributes: [{ key: "temperatureAttr", type: "temperature", groupAddress: "2/1/8" }],
      timeseries: TYPES.map((t) => ({ key: t.key, type: t.type, groupAddress: t.ga })),
    };
    const ctx = await start(configFor(knxd, [device]));
    await ctx.waitFor((s) => s.some((d) => d.deviceName === "Room KNX 1"), 30_000, "first poll");
    // knxd's multicast join stays in its namespace: no host device is in 224.0.23.12
    expect(knxd.groupMembers()).toEqual({ netns: [knxd.netns.nsDevice], host: [] });
    // the tunnel's return end is the host's end of the veth pair (the route's source toward knxd),
    // not the address knxultimate would pick by itself (eth0's)
    expect(knxd.netns.hostUdpSockets()).toHaveLength(1);
    const data = ctx.sent.find((d) => d.deviceName === "Room KNX 1")!;
    expect(data.deviceType).toBe("default");
    expect(data.telemetry![0]!.values).toEqual(Object.fromEntries(TYPES.map((t) => [t.key, t.value])));
    expect(data.attributes).toEqual({ temperatureAttr: 21.5 });
    // one poll: each address read once, 2/1/8 too although two keys use it
    await knxd.settled();
    const reads = knxd.telegrams().filter((t) => t.kind === "read");
    expect(reads.filter((t) => t.address === "2/1/8")).toHaveLength(1);
    expect(reads.filter((t) => t.address === "2/0/1")).toHaveLength(1);
    expect(new Set(reads.map((t) => t.address)).size).toBe(reads.length);
    // the gateway's reads came through the tunnel: knxtool's bus monitor saw them too
    expect(knxd.monitorLines().some((l) => /to 2\/1\/8 .*A_GroupValue_Read/.test(l))).toBe(true);
  }, 60_000);

  test("a value written on the bus by knxtool is reported at once, between polls", async () => {
    knxd = await startKnxd({ "1/0/6": "0c33", "1/0/7": "0fd0", "1/0/8": "small:0" });
    const device = {
      deviceInfo: { deviceNameExpressionSource: "constant", deviceNameExpression: "Hall" },
      pollPeriod: 600_000,
      attributes: [{ key: "light", type: "switch", groupAddress: "1/0/8" }],
      timeseries: [{ key: "temperature", type: "temperature", groupAddress: "1/0/6" }, { key: "humidity", type: "humidity", groupAddress: "1/0/7" }],
    };
    const ctx = await start(configFor(knxd, [device]));
    await ctx.waitFor((s) => s.some((d) => d.deviceName === "Hall"), 30_000, "first poll");
    expect(telemetryOf(ctx, "Hall")).toEqual({ temperature: 21.5, humidity: 40 }); // 0x0fd0: exponent 1, 2000·2/100
    expect(attributesOf(ctx, "Hall")).toEqual({ light: false });
    knxd.groupWrite("1/0/6", "0c1a"); // 1050·2/100
    knxd.groupSmallWrite("1/0/8", 1);
    await ctx.waitFor(() => telemetryOf(ctx, "Hall").temperature === 21 && attributesOf(ctx, "Hall").light === true, 20_000, "written values reported");
  }, 60_000);

  test("three devices reading one address at the same moment share one GroupValueRead", async () => {
    knxd = await startKnxd({ "6/0/1": "0c33" });
    const dev = (name: string) => ({ deviceInfo: { deviceNameExpression: name }, pollPeriod: 600_000, timeseries: [{ key: "t", type: "temperature", groupAddress: "6/0/1" }] });
    const ctx = await start(configFor(knxd, [dev("East"), dev("West"), dev("North")]));
    await ctx.waitFor(() => ["East", "West", "North"].every((n) => telemetryOf(ctx, n).t === 21.5), 30_000, "all three devices");
    if (process.env.KNX_DEBUG) console.log(JSON.stringify(knxd.telegrams()), knxd.monitorLines());
    await knxd.settled();
    expect(knxd.telegrams().filter((t) => t.kind === "read" && t.address === "6/0/1")).toHaveLength(1);
  }, 60_000);

  test("a dead address delays no other device", async () => {
    knxd = await startKnxd({ "3/0/1": "0c33", "3/0/2": "0400" });
    const alive = { deviceInfo: { deviceNameExpression: "Alive" }, pollPeriod: 300, timeseries: [{ key: "t", type: "temperature", groupAddress: "3/0/1" }] };
    // 3/0/9 has no device behind it: its read waits the whole (long) read timeout
    const dead = { deviceInfo: { deviceNameExpression: "Half dead" }, pollPeriod: 300, timeseries: [{ key: "b", type: "brightness", groupAddress: "3/0/2" }, { key: "x", type: "temperature", groupAddress: "3/0/9" }] };
    const ctx = await start(configFor(knxd, [dead, alive], {}, { readTimeout: 60 }));
    // Alive polls again and again while Half dead's first read of 3/0/9 is still unanswered.
    await ctx.waitFor((s) => s.filter((d) => d.deviceName === "Alive").length >= 4, 30_000, "four polls of Alive");
    expect(ctx.sent.some((d) => d.deviceName === "Half dead")).toBe(false);
    await knxd.settled();
    expect(knxd.telegrams().filter((t) => t.kind === "read" && t.address === "3/0/9")).toHaveLength(1);
  }, 60_000);

  test("attribute update and RPC: writes and reads on the bus, a read rule stays a read with params {}", async () => {
    knxd = await startKnxd({ "1/0/5": "4b4e58", "1/0/6": "0c33" });
    const device = {
      deviceInfo: { deviceNameExpressionSource: "expression", deviceNameExpression: "Device ${1/0/5}", deviceNameDataType: "string" },
      pollPeriod: 600_000,
      timeseries: [{ key: "temperature", type: "temperature", groupAddress: "1/0/6" }],
    };
    const extra = {
      attributeUpdates: [
        { deviceNameFilter: ".*", dataType: "percentU8", groupAddress: "1/0/9", key: "brightness" },
        { deviceNameFilter: "Other.*", dataType: "switch", groupAddress: "1/0/10", key: "light" },
        { deviceNameFilter: "Device.*", dataType: "switch", groupAddress: "1/0/11", key: "light" },
      ],
      serverSideRpc: [
        { requestType: "read", deviceNameFilter: ".*", method: "get_name", dataType: "string", groupAddress: "1/0/5" },
        { requestType: "write", deviceNameFilter: ".*", method: "set_name", dataType: "string", groupAddress: "1/0/5" },
        { requestType: "write", deviceNameFilter: ".*", method: "set_temp", dataType: "temperature", groupAddress: "1/0/12" },
      ],
    };
    const ctx = await start(configFor(knxd, [device], extra));
    await ctx.waitFor((s) => s.some((d) => d.deviceName === "Device KNX"), 30_000, "first poll");
    const writes = () => knxd!.telegrams().filter((t) => t.kind === "write");

    await connector!.onAttributeUpdate({ device: "Device KNX", data: { brightness: 200, light: true, unmapped: 1 } });
    await knxd.until((t) => (t.filter((x) => x.kind === "write").length >= 2 ? true : undefined), "attribute writes");
    expect(writes()).toEqual([
      { kind: "write", address: "1/0/9", hex: "c8" },
      { kind: "write", address: "1/0/11", hex: "01" },
    ]);
    await waitUntil(() => knxd!.monitorLines().some((l) => /to 1\/0\/9 .*A_GroupValue_Write.* C8/.test(l)), 10_000, "the write on the bus monitor");

    expect(await connector!.onRpc({ device: "Device KNX", id: 1, method: "set_name", params: "Hi there" })).toEqual({ result: { success: true } });
    expect(await connector!.onRpc({ device: "Device KNX", id: 2, method: "set_temp", params: { value: -5 } })).toEqual({ result: { success: true } });
    await knxd.until((t) => (t.filter((x) => x.kind === "write").length >= 4 ? true : undefined), "RPC writes");
    expect(writes().slice(2)).toEqual([
      { kind: "write", address: "1/0/5", hex: "4869207468657265000000000000" },
      { kind: "write", address: "1/0/12", hex: "860c" },
    ]);

    // a read rule with params {}: a GroupValueRead and the answer, no write (upstream writes "{}")
    await knxd.settled();
    const readsBefore = knxd.telegrams().filter((t) => t.kind === "read" && t.address === "1/0/5").length;
    expect(await connector!.onRpc({ device: "Device KNX", id: 3, method: "get_name", params: {} })).toEqual({ result: { value: "KNX" } });
    await knxd.settled();
    expect(knxd.telegrams().filter((t) => t.kind === "read" && t.address === "1/0/5").length).toBe(readsBefore + 1);
    expect(writes()).toHaveLength(4);

    // reserved get/set with upstream's "k=v;" params
    expect(await connector!.onRpc({ device: "Device KNX", id: 4, method: "get", params: "groupAddress=1/0/6;dataType=temperature;" })).toEqual({ result: { value: 21.5 } });
    expect(await connector!.onRpc({ device: "Device KNX", id: 5, method: "set", params: "groupAddress=1/0/13;dataType=percent;value=100;" })).toEqual({ result: { success: true } });
    await knxd.until((t) => t.find((x) => x.kind === "write" && x.address === "1/0/13"), "reserved set write");
    expect(writes().at(-1)).toEqual({ kind: "write", address: "1/0/13", hex: "ff" });

    // errors are replies, not crashes
    expect(await connector!.onRpc({ device: "Device KNX", id: 6, method: "set_temp", params: "warm" })).toEqual({ error: 'DPT 9.001 needs a number, got "warm"', success: false });
    expect(await connector!.onRpc({ device: "Device KNX", id: 7, method: "get", params: "groupAddress=1/0/99;dataType=temperature;", timeoutSeconds: 1 })).toEqual({ error: "no answer to GroupValueRead of 1/0/99 within 1 s", success: false });
    expect(await connector!.onRpc({ device: "Device KNX", id: 8, method: "nope", params: {} })).toEqual({ error: 'no serverSideRpc rule for method "nope" matches device "Device KNX"', success: false });
    // not our device: left to others
    expect(await connector!.onRpc({ device: "Elsewhere", id: 9, method: "get_name", params: {} })).toBeUndefined();
  }, 60_000);
});

describe("KNX connection", () => {
  test("started before the interface, connects when it appears; after the interface restarts, tunnels again", async () => {
    // one namespace for all three: the interface comes and goes at the same address and port
    const netns = createTestNetns();
    const at = { host: netns.ip, port: 3671 };
    try {
      const device = { deviceInfo: { deviceNameExpression: "Lab" }, pollPeriod: 500, timeseries: [{ key: "t", type: "temperature", groupAddress: "5/0/1" }] };
      // Nothing answers on the port at first: a silent socket there sees the gateway's CONNECT_REQUEST.
      const silent = await listenSilently(netns, at.port);
      const ctx = await start(configFor(at, [device], {}, { autoReconnectWait: 1 }));
      try {
        await waitUntil(() => silent.connectRequests() > 0, 20_000, "a CONNECT_REQUEST nobody answers");
      } finally {
        await silent.stop();
      }
      knxd = await startKnxd({ "5/0/1": "0c33" }, { netns, port: at.port });
      await ctx.waitFor(() => telemetryOf(ctx, "Lab").t === 21.5, 40_000, "value after the late start");
      await knxd.stop();
      knxd = await startKnxd({ "5/0/1": "0c1a" }, { netns, port: at.port });
      await ctx.waitFor(() => telemetryOf(ctx, "Lab").t === 21, 60_000, "value from the restarted interface");
    } finally {
      await connector?.stop();
      await knxd?.stop();
      connector = knxd = undefined;
      netns.destroy();
    }
  }, 120_000);
});
