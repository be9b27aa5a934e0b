// Custom downlink converters of the Request connector (upstream's attributeUpdates[].converter and
// serverSideRpc[].converter) with Python's http.server as the device: the class from
// extensions/request/ is built with its rule, gets upstream's content and returns {url, data}; a
// rule whose class is missing is one error at start and its RPC answers with it; one that throws or
// returns an unusable body fails that RPC with a text naming the class and sends nothing.

import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { startHttpDevice } from "../../common/http/test/device.testutil.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { RequestConnector } from "./connector.ts";
import { RequestConfigSchema } from "./schema.ts";

const CONVERTER = `
export class CustomRequestDownlinkConverter {
  constructor(config) { this.prefix = config.requestUrlExpression; }
  convert(config, content) {
    const d = content.data;
    if (d.params === "boom") throw new Error("spin refused");
    if (d.params === "bigint") return { url: "x", data: 10n };
    if (d.method !== undefined) return { url: this.prefix + "/" + content.device + "/rpc/" + d.method, data: { id: d.id, args: d.params } };
    const [key, value] = Object.entries(d)[0];
    return { url: this.prefix + "/" + content.device + "/set/" + key, data: String(value) };
  }
}
`;

test("attribute update and RPC rendered by a custom downlink converter; a missing class is one error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-request-down-"));
  mkdirSync(join(dir, "extensions", "request"), { recursive: true });
  writeFileSync(join(dir, "extensions", "request", "downlink.ts"), CONVERTER);
  const device = await startHttpDevice({ "/dev/Fan/rpc/spin": { body: { spinning: true } } });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => logs.push(r));
  const rule = { deviceNameFilter: ".*", requestUrlExpression: "dev", httpMethod: "POST", converter: "CustomRequestDownlinkConverter" };
  const config = RequestConfigSchema.parse({
    host: device.url,
    mapping: [],
    attributeUpdates: [{ ...rule, attributeFilter: "speed" }],
    serverSideRpc: [
      { ...rule, methodFilter: "spin" },
      { ...rule, methodFilter: "stop", converter: "NoSuchDownlinkConverter" },
    ],
  });
  const c = new RequestConnector(config, recordingContext({ type: "request", configDir: dir }));
  try {
    await c.start();
    await c.onAttributeUpdate({ device: "Fan", data: { speed: 3 } });
    const [update] = await device.waitFor((r) => r.some((x) => x.path === "/dev/Fan/set/speed"), 10_000, "the attribute update");
    expect(update).toMatchObject({ method: "POST", path: "/dev/Fan/set/speed", body: "3" });
    const reply = await c.onRpc({ device: "Fan", id: 7, method: "spin", params: { rpm: 900 } });
    expect(reply).toEqual({ result: { spinning: true } });
    const rpc = device.requests().find((x) => x.path === "/dev/Fan/rpc/spin")!;
    expect(JSON.parse(rpc.body)).toEqual({ id: 7, args: { rpm: 900 } });
    // a converter that throws or returns an unusable body: the reply names the class, nothing is sent
    const sent = device.requests().length;
    expect(await c.onRpc({ device: "Fan", id: 9, method: "spin", params: "boom" })).toEqual({ result: { error: "custom downlink converter CustomRequestDownlinkConverter failed: spin refused" } });
    expect(await c.onRpc({ device: "Fan", id: 10, method: "spin", params: "bigint" })).toEqual({
      result: { error: 'custom downlink converter CustomRequestDownlinkConverter returned {"url":"x","data":"10n"}, which cannot be written: data is 10n; give text or a JSON value' },
    });
    expect(device.requests().length).toBe(sent);
    const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^serverSideRpc\[1\]: converter NoSuchDownlinkConverter not loaded: custom converter class NoSuchDownlinkConverter not found in .*extensions\/request; the folder exports: CustomRequestDownlinkConverter \(downlink\.ts\)$/);
    const failed = (await c.onRpc({ device: "Fan", id: 8, method: "stop", params: {} })) as { result: { error: string } };
    expect(failed.result.error).toContain("converter NoSuchDownlinkConverter not loaded");
  } finally {
    await c.stop();
    off();
    await device.stop();
  }
}, 30_000);
