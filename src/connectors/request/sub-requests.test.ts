// subRequests with processingFunction, in-process against Python's http.server as the device: the
// upstream sample's function text per item, a function failing for one item (logged once, that
// item sent without the key, then recovering), other answers and results, a function that does
// not compile. gateway.test.ts and binary.test.ts carry the sample's function to the platform.

import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext, type RecordingContext } from "../../../test/support/context.ts";
import { startHttpDevice, type DeviceRoutes, type HttpDevice } from "../../common/http/test/device.testutil.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { RequestConnector } from "./connector.ts";
import { RequestConfigSchema } from "./schema.ts";
import { adaptedRequestSample, gridVisHistory } from "./test/sample.ts";

async function run(routes: DeviceRoutes, config: (device: HttpDevice) => Record<string, any>, body: (ctx: RecordingContext, logs: LogRecord[], device: HttpDevice) => Promise<void>) {
  const device = await startHttpDevice(routes);
  const ctx = recordingContext({ type: "request", configDir: mkdtempSync(join(tmpdir(), "tbgw-request-sub-")) });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => logs.push(r));
  const c = new RequestConnector(RequestConfigSchema.parse(config(device)), ctx);
  try {
    await c.start();
    await body(ctx, logs, device);
  } finally {
    await c.stop();
    off();
    await device.stop();
  }
}

const HIST = "/hist/values/ActiveEnergy/SUM13/3600";
const AUTH = "user:password";
const cumPwr = (ctx: RecordingContext, device: string) => ctx.sent.filter((d) => d.deviceName === device).map((d) => d.telemetry?.[0]?.values.cumPwr);
const lines = (logs: LogRecord[], level: string, text: string) => logs.filter((l) => l.level === level && l.message.includes(text));

/** Upstream's GridVis mapping (request.json mapping[2], its processingFunction as written), polled fast. */
function gridVisMapping(device: HttpDevice) {
  const raw = adaptedRequestSample(device.port);
  raw.mapping = [{ ...raw.mapping[2], scanPeriod: 0.2 }];
  raw.attributeUpdates = [];
  raw.serverSideRpc = [];
  return raw;
}

describe("subRequests processingFunction", () => {
  test("the upstream sample's function per item; one item's failure drops only its cumPwr, logged once, and the recovery once", async () => {
    const routes: DeviceRoutes = {
      "/devices": { body: [{ id: 1, type: "meter", serialNr: "A-1", name: "Main", description: "main" }, { id: 2, type: "meter", serialNr: "A-2", name: "Aux", description: "aux" }], auth: AUTH },
      [`/devices/1${HIST}`]: { body: gridVisHistory(12345), auth: AUTH },
      // no values for the first two polls (IndexError in the function), then one
      [`/devices/2${HIST}`]: { bodies: [{ values: [] }, { values: [] }, gridVisHistory("7250")], auth: AUTH },
    };
    await run(routes, gridVisMapping, async (ctx, logs) => {
      await ctx.waitFor(() => cumPwr(ctx, "2-meter").includes(7.25), 15000, "2-meter's cumPwr after it recovers");
      expect(cumPwr(ctx, "1-meter").every((v) => v === 12.345)).toBe(true);
      // the polls before: 2-meter sent (its attributes) without cumPwr
      const early = ctx.sent.filter((d) => d.deviceName === "2-meter");
      expect(early.slice(0, 2).map((d) => d.telemetry?.[0]?.values.cumPwr)).toEqual([undefined, undefined]);
      expect(early[0]!.attributes).toMatchObject({ id: 2, serialNr: "A-2" });
      const failed = lines(logs, "ERROR", "sub-request cumPwr");
      expect(failed.length).toBe(1);
      expect(failed[0]!.message).toMatch(/processingFunction failed: .*IndexError: list index out of range \(1 of 2 item\(s\), e\.g\. http:\/\/127\.0\.0\.1:\d+\/devices\/2\/hist\/values\/ActiveEnergy\/SUM13\/3600\?start=/);
      await ctx.waitFor(() => lines(logs, "INFO", "sub-request cumPwr: working again").length > 0, 5000, "recovery logged");
      expect(lines(logs, "INFO", "sub-request cumPwr: working again").length).toBe(1);
    });
  }, 30000);

  test("text answers reach the function as str; a list without a function and a non-dict result are refused; a multi-line function with if/else", async () => {
    const multi = ["def process_data(data, key):", "    r = {}", "    if data['state'] == 'on':", "        r[key] = 1", "    else:", "        r[key] = 0", "    return r"].join("\n");
    await run(
      { "/item": { body: { name: "Dev", id: 7 } }, "/item/7/label": { body: "  hello  " }, "/item/7/list": { body: [1, 2] }, "/item/7/num": { body: 5 }, "/item/7/state": { body: { state: "on" } } },
      (device) => ({
        host: device.url,
        mapping: [
          {
            url: "item",
            scanPeriod: 60,
            subRequests: {
              label: { url: "${id}/label", processingFunction: "def process_data(data, key): return {key: data.strip().upper()}" },
              list: { url: "${id}/list" },
              num: { url: "${id}/num", processingFunction: "def process_data(data, key): return data" },
              on: { url: "${id}/state", processingFunction: multi },
            },
            converter: {
              type: "json",
              deviceNameJsonExpression: "${name}",
              telemetry: ["label", "list", "num", "on"].map((k) => ({ key: k, type: k === "label" ? "string" : "int", value: "${" + k + "}" })),
            },
          },
        ],
      }),
      async (ctx, logs) => {
        await ctx.waitFor((s) => s.length > 0, 10000, "the poll");
        expect(ctx.sent[0]!.telemetry![0]!.values).toEqual({ label: "HELLO", on: 1 });
        await new Promise<void>((r) => setTimeout(r, 0));
        expect(lines(logs, "ERROR", "sub-request list: the answer is not a JSON object").length).toBe(1);
        expect(lines(logs, "ERROR", "sub-request num: processingFunction failed: TypeError: process_data must return a dict, not int").length).toBe(1);
      },
    );
  }, 30000);

  test("a function that does not compile is logged at start with its line and column; the others still run", async () => {
    await run(
      { "/item": { body: { name: "Dev", id: 7 } }, "/item/7/a": { body: { a: 1 } } },
      (device) => ({
        host: device.url,
        mapping: [
          {
            url: "item",
            scanPeriod: 60,
            subRequests: { a: { url: "${id}/a" }, b: { url: "${id}/b", processingFunction: "def process_data(data, key):\n    x = data[\n    return {key: x}" } },
            converter: { type: "json", deviceNameJsonExpression: "${name}", telemetry: [{ key: "a", type: "int", value: "${a}" }, { key: "b", type: "int", value: "${b}" }] },
          },
        ],
      }),
      async (ctx, logs, device) => {
        await ctx.waitFor((s) => s.length > 0, 10000, "the poll");
        expect(ctx.sent[0]!.telemetry![0]!.values).toEqual({ a: 1 });
        const e = lines(logs, "ERROR", "subRequests.b.processingFunction");
        expect(e.length).toBe(1);
        expect(e[0]!.message).toMatch(/bracket is not closed \(line 2, column 13 of the function\); this sub-request is not made/);
        await device.waitFor((r) => r.some((x) => x.path === "/item/7/a"), 5000, "sub-request a");
        expect(device.requests().some((x) => x.path === "/item/7/b")).toBe(false);
      },
    );
  }, 30000);
});
