// REST connector in-process, called by curl (Debian package) over loopback; downlink answered by a
// Python http.server device. The gateway core is the recording context (see gateway.test.ts for
// the whole gateway).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext, type RecordingContext } from "../../../test/support/context.ts";
import { startHttpDevice, type HttpDevice } from "../../common/http/test/device.testutil.ts";
import type { SendStatus } from "../../core/connector.ts";
import { RestConnector } from "./connector.ts";
import { RestConfigSchema } from "./schema.ts";
import { curl, postJson } from "./test/curl.ts";
import { withExtension } from "./test/sample.ts";
import { SAMPLES } from "../../../test/support/paths.ts";

const SAMPLE = join(SAMPLES, "rest.json");

function configDir(): string {
  return withExtension(mkdtempSync(join(tmpdir(), "tbgw-rest-")));
}

async function withRest(raw: Record<string, any>, body: (base: string, ctx: RecordingContext, c: RestConnector) => Promise<void>, ctx = recordingContext({ type: "rest", configDir: configDir() })) {
  const c = new RestConnector(RestConfigSchema.parse(raw), ctx);
  try {
    await c.start();
    await body(`http://127.0.0.1:${c.port}`, ctx, c);
  } finally {
    await c.stop();
  }
}

const endpoint = (extra: Record<string, unknown>) => ({
  endpoint: "/data",
  HTTPMethods: ["POST"],
  converter: {
    type: "json",
    deviceInfo: { deviceNameExpressionSource: "request", deviceNameExpression: "${name}" },
    attributes: [],
    timeseries: [{ key: "t", type: "double", value: "${t}" }],
  },
  ...extra,
});
const server = (extra: Record<string, unknown> = {}) => ({ host: "127.0.0.1", port: 0, ...extra });

describe("rest connector (curl as the device)", () => {
  test("upstream sample rest.json: JSON body, query-only GET, form body, custom byte converter; configured types applied", async () => {
    const raw = JSON.parse(readFileSync(SAMPLE, "utf8"));
    raw.server.port = 0;
    await withRest(raw, async (base, ctx) => {
      const r = await postJson(`${base}/my_devices`, { sensorName: "SN-1", sensorType: "Thermometer", sensorModel: "T1000", certificateNumber: "C-77", temp: "21.5", hum: 40 });
      expect(r.status).toBe(200);
      expect(r.body).toBe("");
      expect(ctx.sent[0]).toEqual({
        deviceName: "SN-1",
        deviceType: "Thermometer",
        attributes: { model: "T1000", certificateNumber: "C-77" },
        telemetry: [{ values: { temperature: 21.5, humidity: 40 } }],
      });
      expect((await curl([`${base}/anon1?temp=3&hum=4.5`])).status).toBe(200);
      expect(ctx.sent[1]).toEqual({ deviceName: "Device 2", deviceType: "default", attributes: { model: "Model2" }, telemetry: [{ values: { temperature: 3, humidity: 4.5 } }] });
      expect((await curl(["-d", "temp=5&hum=6", `${base}/anon1`])).status).toBe(200);
      expect(ctx.sent[2]!.telemetry).toEqual([{ values: { temperature: 5, humidity: 6 } }]);
      // 0x00000102 = 258 in the first four bytes of the body
      const bin = join(ctx.configDir, "body.bin");
      writeFileSync(bin, Buffer.from([0, 0, 1, 2, 9, 9]));
      expect((await curl(["-H", "Content-Type: application/octet-stream", "--data-binary", `@${bin}`, `${base}/anon2`])).status).toBe(200);
      expect(ctx.sent[3]).toEqual({ deviceName: "SuperAnonDevice", deviceType: "default", telemetry: [{ values: { Totaliser: 258 } }] });
    });
  });

  test("path parameters and query are template values, the query overriding the body; every element of an array body is used", async () => {
    await withRest(
      {
        server: server(),
        mapping: [
          endpoint({ endpoint: "/dev/{deviceName}/data", converter: { deviceInfo: { deviceNameExpression: "${deviceName}" }, timeseries: [{ key: "t", type: "int", value: "${t}" }, { key: "h", value: "${h}", type: "double" }] } }),
          endpoint({ endpoint: "/bulk" }),
        ],
      },
      async (base, ctx) => {
        expect((await postJson(`${base}/dev/Boiler%201/data?t=9`, { t: 1, h: "2.5" })).status).toBe(200);
        expect(ctx.sent[0]).toEqual({ deviceName: "Boiler 1", deviceType: "default", telemetry: [{ values: { t: 9, h: 2.5 } }] });
        const items = [
          { name: "A", t: 1, ts: 1000 },
          { name: "B", t: 2, ts: 1000 },
          { name: "A", t: 3, ts: 2000 },
        ];
        expect((await postJson(`${base}/bulk`, items)).status).toBe(200);
        expect(ctx.sent.slice(1)).toEqual([
          { deviceName: "A", deviceType: "default", telemetry: [{ ts: 1000, values: { t: 1 } }, { ts: 2000, values: { t: 3 } }] },
          { deviceName: "B", deviceType: "default", telemetry: [{ ts: 1000, values: { t: 2 } }] },
        ]);
      },
    );
  });

  test("a custom converter sees the request's headers, path and method (copied only when read), also when it serialises or spreads the request", async () => {
    const dir = configDir();
    writeFileSync(
      join(dir, "extensions/rest/header_converter.ts"),
      `export class HeaderConverter {
  convert(_config, data, request) {
    const copy = { ...request };
    const text = JSON.parse(JSON.stringify(request));
    request.headers = { replaced: "yes" };
    return { deviceName: copy.headers["x-device"], telemetry: [{ v: data.v, path: request.path, method: request.method, agent: text.headers["user-agent"], replaced: request.headers.replaced }] };
  }
}
`,
    );
    await withRest(
      { server: server(), mapping: [{ endpoint: "/h/{x}", HTTPMethods: ["PUT"], converter: { type: "custom", extension: "HeaderConverter" } }] },
      async (base, ctx) => {
        const r = await curl(["-X", "PUT", "-H", "X-Device: hdr-dev", "-H", "User-Agent: probe/1", "-H", "Content-Type: application/json", "-d", '{"v": 7}', `${base}/h/a?q=1`]);
        expect(r.status).toBe(200);
        expect(ctx.sent[0]).toMatchObject({ deviceName: "hdr-dev", telemetry: [{ values: { v: 7, path: "/h/a", method: "PUT", agent: "probe/1", replaced: "yes" } }] });
      },
      recordingContext({ type: "rest", configDir: dir }),
    );
  });

  test("status codes: 404, 405 with Allow, 401, 413 before the body is read, 400 with the error's place, 415; successResponse is the 200 body", async () => {
    await withRest(
      {
        server: server({ maxBodySize: 1000 }),
        mapping: [
          endpoint({ response: { successResponse: "OK!" } }),
          endpoint({ endpoint: "/secure", HTTPMethods: ["POST", "PUT"], security: { type: "basic", username: "dev", password: "s3cret" }, response: { successResponse: { ok: true } } }),
        ],
      },
      async (base, ctx) => {
        expect((await postJson(`${base}/nowhere`, { name: "x", t: 1 })).status).toBe(404);
        const m = await curl(["-X", "DELETE", `${base}/secure`]);
        expect(m.status).toBe(405);
        expect(m.headers.allow).toBe("POST, PUT");
        expect((await postJson(`${base}/secure`, { name: "x", t: 1 })).status).toBe(401);
        const wrong = await postJson(`${base}/secure`, { name: "x", t: 1 }, ["-u", "dev:wrong"]);
        expect(wrong.status).toBe(401);
        expect(wrong.headers["www-authenticate"]).toContain("Basic");
        const good = await postJson(`${base}/secure`, { name: "S", t: 1 }, ["-u", "dev:s3cret"]);
        expect([good.status, good.body]).toEqual([200, '{"ok":true}']);

        const big = join(ctx.configDir, "big.json");
        writeFileSync(big, JSON.stringify({ name: "x", t: 1, pad: "p".repeat(5000) }));
        expect((await curl(["-H", "Content-Type: application/json", "--data-binary", `@${big}`, `${base}/data`])).status).toBe(413);
        // without a length: refused while reading, once past the limit
        expect((await curl(["-H", "Content-Type: application/json", "-H", "Transfer-Encoding: chunked", "--data-binary", `@${big}`, `${base}/data`])).status).toBe(413);

        const bad = await postJson(`${base}/data`, '{"name": "x",\n "t": 1,, }');
        expect(bad.status).toBe(400);
        expect(bad.body).toBe("malformed JSON at line 2, column 9 (byte 22): property name expected\n");
        expect((await curl(["-X", "POST", `${base}/data`])).status).toBe(415);
        // a message without the device name is refused, not stored under a placeholder name
        const noName = await postJson(`${base}/data`, { t: 1 });
        expect([noName.status, noName.body]).toEqual([400, "device name not found (${name})\n"]);

        const ok = await postJson(`${base}/data`, { name: "D", t: "7" });
        expect([ok.status, ok.body]).toEqual([200, "OK!"]);
        expect(ctx.sent.map((d) => d.deviceName)).toEqual(["S", "D"]);
      },
    );
  });

  test("a stalled request and an oversized one do not hold up others", async () => {
    await withRest({ server: server({ maxBodySize: 100 }), mapping: [endpoint({})] }, async (base, ctx) => {
      const port = Number(new URL(base).port);
      const stalled = connect(port, "127.0.0.1");
      await new Promise<void>((r) => stalled.once("connect", () => r()));
      stalled.write("POST /data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{\"name\":");
      try {
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 3 === 0 ? postJson(`${base}/data`, { name: "big", pad: "x".repeat(500) }) : postJson(`${base}/data`, { name: `D${i}`, t: i }))));
        expect(results.map((r) => r.status)).toEqual([413, 200, 200, 413, 200, 200, 413, 200, 200, 413]);
        expect(ctx.sent.length).toBe(6);
      } finally {
        stalled.destroy();
      }
    });
  });

  test("200 only once the data is stored; 503 with Retry-After when storage refuses it", async () => {
    const ctx = recordingContext({ type: "rest", configDir: configDir() });
    let release!: (s: SendStatus) => void;
    let entered!: () => void;
    const inSend = new Promise<void>((r) => (entered = r));
    ctx.sendData = () => {
      entered();
      return new Promise<SendStatus>((r) => (release = r));
    };
    await withRest(
      { server: server(), mapping: [endpoint({})] },
      async (base) => {
        let answered = false;
        const first = postJson(`${base}/data`, { name: "D", t: 1 }).then((r) => ((answered = true), r));
        await inSend;
        // storage has not confirmed yet: curl must still be waiting
        await new Promise((r) => setTimeout(r, 100));
        expect(answered).toBe(false);
        release("SUCCESS");
        expect((await first).status).toBe(200);

        ctx.sendData = async () => "NOT_STORED";
        const full = await postJson(`${base}/data`, { name: "D", t: 2 });
        expect(full.status).toBe(503);
        expect(full.headers["retry-after"]).toBe("1");
        // data that can never be stored is the request's fault, not a reason to retry
        ctx.sendData = async () => "FAILURE";
        expect((await postJson(`${base}/data`, { name: "D", t: 3 })).status).toBe(400);
      },
      ctx,
    );
  });

  test("responseExpected: the answer waits for the platform to set responseAttribute of that device; 408 after the timeout", async () => {
    await withRest(
      { server: server(), mapping: [endpoint({ response: { responseExpected: true, timeout: 1, responseAttribute: "reply", unsuccessfulResponse: "no reply" } })] },
      async (base, ctx, c) => {
        const held = postJson(`${base}/data`, { name: "Valve", t: 1 });
        await ctx.waitFor((s) => s.length === 1, 5000, "stored request");
        expect(ctx.sent[0]!.attributes).toEqual({ responseExpected: true });
        // another device's update does not release it
        await c.onAttributeUpdate({ device: "Other", data: { reply: "not yours" } });
        await c.onAttributeUpdate({ device: "Valve", data: { reply: { open: true } } });
        expect(await held).toMatchObject({ status: 200, body: '{"open":true}' });
        const late = await postJson(`${base}/data`, { name: "Valve", t: 2 });
        expect([late.status, late.body]).toEqual([408, "no reply"]);
      },
    );
  });

  test("attribute request endpoint answers with the platform's values", async () => {
    const ctx = recordingContext({ type: "rest", configDir: configDir() });
    ctx.attributes.Pump = { mode: "eco", limit: 5 };
    await withRest(
      {
        server: server(),
        mapping: [endpoint({})],
        requestsMapping: {
          attributeRequests: [{ endpoint: "/attrs", type: "shared", HTTPMethods: ["POST"], timeout: 5, deviceNameExpression: "${deviceName}", attributeNameExpression: "${a}${b}" }],
        },
      },
      async (base) => {
        const one = await postJson(`${base}/attrs`, { deviceName: "Pump", a: "mode" });
        expect(JSON.parse(one.body)).toEqual({ device: "Pump", value: "eco" });
        const two = await postJson(`${base}/attrs`, { deviceName: "Pump", a: "mode", b: "limit" });
        expect(JSON.parse(two.body)).toEqual({ device: "Pump", values: { mode: "eco", limit: 5 } });
        expect(ctx.attributeRequests.at(-1)).toEqual({ device: "Pump", keys: ["mode", "limit"], scope: "shared" });
      },
      ctx,
    );
  });

  test("HTTPS with the configured certificate and key", async () => {
    const dir = configDir();
    const r = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")]);
    expect(r.exitCode).toBe(0);
    await withRest(
      { server: server({ SSL: true, security: { cert: "cert.pem", key: "key.pem" } }), mapping: [endpoint({})] },
      async (base, ctx) => {
        const https = base.replace("http:", "https:");
        expect((await postJson(`${https}/data`, { name: "TLS", t: 1 }, ["--cacert", join(dir, "cert.pem")])).status).toBe(200);
        expect(ctx.sent[0]!.deviceName).toBe("TLS");
        await expect(curl([`${base}/data`, "-d", "{}"])).rejects.toThrow(); // plain HTTP is not served
      },
      recordingContext({ type: "rest", configDir: dir }),
    );
  });

  test("stop is idempotent and nothing is accepted after it", async () => {
    const ctx = recordingContext({ type: "rest", configDir: configDir() });
    const c = new RestConnector(RestConfigSchema.parse({ server: server(), mapping: [endpoint({})] }), ctx);
    await c.start();
    const base = `http://127.0.0.1:${c.port}`;
    expect((await postJson(`${base}/data`, { name: "D", t: 1 })).status).toBe(200);
    await c.stop();
    await c.stop();
    await expect(postJson(`${base}/data`, { name: "D", t: 2 })).rejects.toThrow();
    expect(ctx.sent.length).toBe(1);
  });
});

describe("rest downlink (Python http.server as the device)", () => {
  let device: HttpDevice;
  beforeAll(async () => {
    device = await startHttpDevice({
      "/echo/Valve": { body: { temp: 21.5, ok: true } },
      "/broken": { status: 500, body: "boom" },
      "/slow": { delay: 3, body: {} },
      "/plain": { body: "pong" },
    });
  });
  afterAll(async () => {
    await device?.stop();
  });

  test("attribute updates and RPC become HTTP requests; the reply carries the device's answer", async () => {
    const url = device.url;
    await withRest(
      {
        server: server(),
        mapping: [endpoint({})],
        requestsMapping: {
          attributeUpdates: [
            { deviceNameFilter: "SN.*", attributeFilter: "fw.*", HTTPMethod: "POST", httpHeaders: { "Content-Type": "application/json" }, requestUrlExpression: `${url}/attr/\${deviceName}/\${attributeKey}`, valueExpression: '{"device":"${deviceName}","${attributeKey}":"${attributeValue}"}' },
          ],
          serverSideRpc: [
            { deviceNameFilter: ".*", methodFilter: "echo", requestUrlExpression: `${url}/echo/\${deviceName}?id=\${restId}`, HTTPMethod: "GET", timeout: 5 },
            { deviceNameFilter: ".*", methodFilter: "set", requestUrlExpression: `127.0.0.1:${device.port}/set/\${deviceName}`, HTTPMethod: "POST", valueExpression: '{"speed": ${params.speed}, "name": "${params.name}"}' },
            { deviceNameFilter: ".*", methodFilter: "broken", requestUrlExpression: `${url}/broken`, HTTPMethod: "GET" },
            { deviceNameFilter: ".*", methodFilter: "slow", requestUrlExpression: `${url}/slow`, HTTPMethod: "GET", timeout: 0.5 },
          ],
        },
      },
      async (_base, _ctx, c) => {
        await c.onAttributeUpdate({ device: "SN-1 A", data: { fwVersion: "1.2", other: 5 } });
        await c.onAttributeUpdate({ device: "XX", data: { fwVersion: "9" } });
        const reqs = await device.waitFor((r) => r.some((x) => x.path.startsWith("/attr/")), 5000, "attribute update");
        const attr = reqs.filter((x) => x.path.startsWith("/attr/"));
        expect(attr.length).toBe(1);
        expect(attr[0]).toMatchObject({ method: "POST", path: "/attr/SN-1%20A/fwVersion", headers: { "content-type": "application/json" } });
        expect(JSON.parse(attr[0]!.body)).toEqual({ device: "SN-1 A", fwVersion: "1.2" });

        expect(await c.onRpc({ device: "Valve", id: 7, method: "echo", params: {} })).toEqual({ result: { temp: 21.5, ok: true } });
        const echo = await device.waitFor((r) => r.some((x) => x.path === "/echo/Valve"), 5000, "echo request");
        expect(echo.find((x) => x.path === "/echo/Valve")!.query).toBe("id=7");
        expect(await c.onRpc({ device: "Fan", id: 8, method: "set", params: { speed: 3, name: "low" } })).toEqual({ result: {} });
        const set = await device.waitFor((r) => r.some((x) => x.path === "/set/Fan"), 5000, "set request");
        expect(JSON.parse(set.find((x) => x.path === "/set/Fan")!.body)).toEqual({ speed: 3, name: "low" });
        expect(await c.onRpc({ device: "Fan", id: 9, method: "broken", params: {} })).toEqual({ result: { error: "Internal Server Error", code: 500 } });
        expect(await c.onRpc({ device: "Fan", id: 10, method: "slow", params: {} })).toEqual({ result: { error: "Timeout", code: 408 } });
        expect(await c.onRpc({ device: "Fan", id: 11, method: "get", params: `requestUrlExpression=${url}/plain;HTTPMethod=GET;` })).toEqual({ result: "pong" });
        expect(await c.onRpc({ device: "Fan", id: 12, method: "unknown", params: {} })).toBeUndefined();
        // connector RPC (no device): the first token names the device, the rest is a reserved get/set
        expect(await c.onRpc({ id: "13", method: "rest_set", params: `device=Valve requestUrlExpression=${url}/echo/\${deviceName};HTTPMethod=POST;value={"on": true};` })).toEqual({ result: { temp: 21.5, ok: true } });
        const viaConnector = await device.waitFor((r) => r.some((x) => x.path === "/echo/Valve" && x.method === "POST"), 5000, "rest_set request");
        expect(JSON.parse(viaConnector.find((x) => x.path === "/echo/Valve" && x.method === "POST")!.body)).toEqual({ on: true });
        expect(await c.onRpc({ id: "14", method: "rest_get", params: { not: "text" } })).toMatchObject({ result: { code: 400 } });
        expect(await c.onRpc({ id: "15", method: "rest_other", params: "device=Fan" })).toBeUndefined();
      },
    );
  }, 20000);
});
