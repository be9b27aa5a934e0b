// Custom downlink converters of the REST connector (upstream's requestsMapping.attributeUpdates[] /
// serverSideRpc[] `extension`) with Python's http.server as the device: the class from
// extensions/rest/ is built with its rule, gets upstream's content ({device, data: {key: value}} or
// {device, data: {id, method, params}}) and returns {url, data}; one that throws or returns no URL
// fails that update / RPC with a text naming the class (the RPC reply carries it) and sends nothing;
// a rule whose class is missing is one error at start and its RPC answers with it.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { startHttpDevice, type HttpDevice } from "../../common/http/test/device.testutil.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { RestConnector } from "./connector.ts";
import { RestConfigSchema } from "./schema.ts";

let device: HttpDevice;
beforeAll(async () => {
  device = await startHttpDevice({ "/api/Valve/commands": { body: { accepted: true } } });
});
afterAll(async () => {
  await device?.stop();
});

const CONVERTER = `
export class ValveRestDownlink {
  constructor(rule) { this.base = rule.requestUrlExpression; }
  async convert(rule, content) {
    const d = content.data;
    if (d.method === undefined) {
      const [key, value] = Object.entries(d)[0];
      if (value === "boom") throw new Error("no " + key + " for " + content.device);
      return { url: this.base + "/" + content.device + "/settings", data: { [key]: value, unit: "percent" } };
    }
    if (d.params === "no-url") return { data: "x" };
    return { url: this.base + "/" + content.device + "/commands", data: "cmd=" + d.method + "&arg=" + d.params + "&id=" + d.id };
  }
}
`;

test("requestsMapping `extension` classes render attribute updates and RPC; failures name the class and send nothing; a missing class is one error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-rest-down-"));
  mkdirSync(join(dir, "extensions", "rest"), { recursive: true });
  writeFileSync(join(dir, "extensions", "rest", "valve.js"), CONVERTER);
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => r.scope.includes("REST downlink") && logs.push(r));
  const rule = { deviceNameFilter: ".*", HTTPMethod: "POST", requestUrlExpression: `${device.url}/api`, extension: "ValveRestDownlink" };
  const config = RestConfigSchema.parse({
    server: { host: "127.0.0.1", port: 0 },
    mapping: [],
    requestsMapping: {
      attributeUpdates: [{ ...rule, attributeFilter: "opening" }],
      serverSideRpc: [
        { ...rule, methodFilter: "open" },
        { ...rule, methodFilter: "close", extension: "NoSuchRestDownlink" },
      ],
    },
  });
  const c = new RestConnector(config, recordingContext({ type: "rest", name: "REST downlink", configDir: dir }));
  try {
    await c.start();
    await c.onAttributeUpdate({ device: "Valve", data: { opening: 40 } });
    const [update] = await device.waitFor((r) => r.some((x) => x.path === "/api/Valve/settings"), 10_000, "the attribute update");
    expect(update).toMatchObject({ method: "POST", path: "/api/Valve/settings" });
    expect(JSON.parse(update!.body)).toEqual({ opening: 40, unit: "percent" });

    expect(await c.onRpc({ device: "Valve", id: 5, method: "open", params: 70 })).toEqual({ result: { accepted: true } });
    expect(device.requests().find((x) => x.path === "/api/Valve/commands")!.body).toBe("cmd=open&arg=70&id=5");

    const sent = device.requests().length;
    expect(await c.onRpc({ device: "Valve", id: 6, method: "open", params: "no-url" })).toEqual({
      result: { error: 'custom downlink converter ValveRestDownlink returned {"data":"x"}, which cannot be written: give {url, data} with the URL as text', code: 500 },
    });
    await c.onAttributeUpdate({ device: "Valve", data: { opening: "boom" } });
    const missing = (await c.onRpc({ device: "Valve", id: 7, method: "close", params: null })) as { result: { error: string } };
    expect(missing.result.error).toMatch(/^requestsMapping\.serverSideRpc\[1\]: converter NoSuchRestDownlink not loaded: custom converter class NoSuchRestDownlink not found in .*extensions\/rest; the folder exports: ValveRestDownlink \(valve\.js\)$/);
    await waitUntil(() => logs.some((l) => l.message.includes("attribute opening of Valve")), 10_000, "the failed update's log line");
    expect(device.requests().length).toBe(sent);

    const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^requestsMapping\.serverSideRpc\[1\]: converter NoSuchRestDownlink not loaded: /);
    expect(errors[1]).toBe("attribute opening of Valve: custom downlink converter ValveRestDownlink failed: no opening for Valve");
  } finally {
    off();
    await c.stop();
  }
}, 30_000);
