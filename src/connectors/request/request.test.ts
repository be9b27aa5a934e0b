// Request connector in-process against Python's http.server as the device (recording every request
// the gateway sends); the gateway core is the recording context (gateway.test.ts runs the whole
// gateway).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext, type RecordingContext } from "../../../test/support/context.ts";
import { startHttpDevice, type DeviceRoutes, type HttpDevice } from "../../common/http/test/device.testutil.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { RequestConnector } from "./connector.ts";
import { RequestConfigSchema } from "./schema.ts";
import { adaptedRequestSample, sampleRoutes, withRequestExtension } from "./test/sample.ts";

async function withRequest(raw: Record<string, any>, body: (c: RequestConnector, ctx: RecordingContext, logs: LogRecord[]) => Promise<void>, ctx?: RecordingContext) {
  ctx ??= recordingContext({ type: "request", configDir: withRequestExtension(mkdtempSync(join(tmpdir(), "tbgw-request-"))) });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => logs.push(r));
  const c = new RequestConnector(RequestConfigSchema.parse(raw), ctx);
  try {
    await c.start();
    await body(c, ctx, logs);
  } finally {
    await c.stop();
    off();
  }
}

async function withDevice(routes: DeviceRoutes, body: (d: HttpDevice) => Promise<void>, tls?: { cert: string; key: string }) {
  const d = await startHttpDevice(routes, tls);
  try {
    await body(d);
  } finally {
    await d.stop();
  }
}

const poll = (url: string, extra: Record<string, unknown> = {}) => ({
  url,
  scanPeriod: 60,
  converter: { type: "json", deviceNameJsonExpression: "${name}", telemetry: [{ key: "v", type: "double", value: "${v}" }] },
  ...extra,
});

const sent = (ctx: RecordingContext, device: string) => ctx.sent.filter((d) => d.deviceName === device);

describe("request connector (Python http.server as the device)", () => {
  test("upstream sample request.json: basic auth, typed values, `null` in templates, a list answer with sub-requests, a custom byte converter", async () => {
    await withDevice(sampleRoutes, async (device) => {
      await withRequest(adaptedRequestSample(device.port), async (_c, ctx) => {
        await ctx.waitFor((s) => s.some((d) => d.deviceName === "SD8500" && d.attributes) && s.some((d) => d.deviceName === "2-meter") && s.some((d) => d.telemetry?.[0]?.values.Totaliser !== undefined), 10000, "all three mappings");
        const getdata = sent(ctx, "SD8500").find((d) => d.attributes)!;
        expect(getdata).toEqual({ deviceName: "SD8500", deviceType: "SD", attributes: { serialNumber: "SN-0042" }, telemetry: [{ values: { Maintainer: "Tester", combine: "Tester:null" } }] });
        const info = sent(ctx, "SD8500").find((d) => d.telemetry?.[0]?.values.Totaliser !== undefined)!;
        expect(info.telemetry![0]!.values).toEqual({ Totaliser: 1000, Flow: 2.5, Temperature: 21.5, Pressure: -1, deviceStatus: 5, OUT2: 1, OUT1: 1 });
        const [m1, m2] = [sent(ctx, "1-meter")[0]!, sent(ctx, "2-meter")[0]!];
        expect(m1.deviceType).toBe("GridVis");
        expect(m1.attributes).toEqual({ id: 1, type: "meter", serialNr: "A-1", name: "Main", description: "main feed" });
        expect(m1.telemetry![0]!.values).toEqual({ cumPwr: 12.5 });
        expect(m2.telemetry![0]!.values).toEqual({ cumPwr: 7.25 });
        // list elements without ts are stamped with the poll time
        expect(typeof m1.telemetry![0]!.ts).toBe("number");
        // the device prints each request before answering it, but its output may arrive after the answer
        const reqs = await device.waitFor((r) => r.some((x) => x.path === "/getdata") && r.some((x) => x.path.startsWith("/devices/1/")), 5000, "recorded requests");
        expect(reqs.find((r) => r.path === "/getdata")!.headers).toMatchObject({ authorization: "Basic " + btoa("user:password"), accept: "application/json" });
        expect(reqs.some((r) => r.path === "/devices/1/hist/values/ActiveEnergy/SUM13/3600" && r.query === "start=RELATIVE_-1HOUR&end=RELATIVE_-1HOUR&online=false&aggregate=false")).toBe(true);
      });
    });
  }, 20000);

  test("an object `data` is sent form-encoded, a string as it is; headers and method as configured", async () => {
    await withDevice({ "/form": { body: { name: "F", v: "1.5" } }, "/text": { body: { name: "T", v: 2 } } }, async (device) => {
      await withRequest(
        {
          host: `127.0.0.1:${device.port}`,
          mapping: [
            poll("form", { httpMethod: "post", data: { a: 1, b: "x y", c: true } }),
            poll("/text", { httpMethod: "PUT", data: '{"raw": true}', httpHeaders: { "Content-Type": "application/json", "X-Key": "k1" } }),
          ],
        },
        async (_c, ctx) => {
          await ctx.waitFor((s) => sent(ctx, "F").length > 0 && sent(ctx, "T").length > 0, 10000, "both polls");
          expect(sent(ctx, "F")[0]!.telemetry![0]!.values).toEqual({ v: 1.5 });
          const r = await device.waitFor((x) => x.some((y) => y.path === "/form") && x.some((y) => y.path === "/text"), 5000, "recorded requests");
          const form = r.find((x) => x.path === "/form")!;
          expect([form.method, form.body, form.headers["content-type"]]).toEqual(["POST", "a=1&b=x+y&c=true", "application/x-www-form-urlencoded;charset=UTF-8"]);
          const text = r.find((x) => x.path === "/text")!;
          expect([text.method, text.body, text.headers["x-key"]]).toEqual(["PUT", '{"raw": true}', "k1"]);
        },
      );
    });
  }, 20000);

  test("a slow endpoint never delays the others; failures are logged once per change, counted, and backed off", async () => {
    await withDevice(
      { "/slow": { delay: 2, body: { name: "S", v: 1 } }, "/fast": { body: { name: "Q", v: 1 } }, "/broken": { status: 500, body: "down" }, "/html": { body: "<html>hi</html>", contentType: "text/html" } },
      async (device) => {
        await withRequest(
          {
            host: device.url,
            maxConcurrentRequests: 4,
            mapping: [poll("slow", { timeout: 0.3, scanPeriod: 0.1 }), poll("fast", { scanPeriod: 0.1 }), poll("broken", { scanPeriod: 0.1 }), poll("html", { scanPeriod: 0.1 })],
          },
          async (c, ctx, logs) => {
            await ctx.waitFor((s) => s.filter((d) => d.deviceName === "Q").length >= 10, 10000, "ten polls of the fast endpoint");
            const errors = (what: string) => logs.filter((l) => l.level === "ERROR" && l.message.includes(what));
            expect(errors("/slow").length).toBe(1);
            expect(errors("/slow")[0]!.message).toMatch(/no answer from .*\/slow within 0\.3 s/);
            expect(errors("/broken").length).toBe(1);
            expect(errors("/broken")[0]!.message).toContain("answered 500");
            expect(errors("/html").length).toBe(1);
            expect(errors("/html")[0]!.message).toContain("not JSON");
            expect(c.stats.serverErrors).toBeGreaterThanOrEqual(1);
            expect(c.stats.notJson).toBeGreaterThanOrEqual(1);
            // backoff: the failing endpoint is asked far less often than the healthy one
            const count = (p: string) => device.requests().filter((r) => r.path === p).length;
            expect(count("/broken")).toBeLessThan(count("/fast") / 2);
            expect(sent(ctx, "S").length).toBe(0);
          },
        );
      },
    );
  }, 20000);

  test("TLS: certificates verified by default (a self-signed server fails), trusted with caCert, unverified with SSLVerify false and a warning", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-request-tls-"));
    const r = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")]);
    expect(r.exitCode).toBe(0);
    await withDevice(
      { "/data": { body: { name: "Secure", v: 3 } } },
      async (device) => {
        const mapping = [poll("data", { timeout: 2 })];
        await withRequest({ host: device.url, mapping }, async (_c, ctx, logs) => {
          await new Promise<void>((res) => {
            const check = () => (logs.some((l) => l.level === "ERROR") ? res() : setTimeout(check, 20));
            check();
          });
          expect(logs.find((l) => l.level === "ERROR")!.message).toMatch(/TLS|certificate|self.signed/i);
          expect(ctx.sent.length).toBe(0);
        });
        const trusted = recordingContext({ type: "request", configDir: dir });
        await withRequest({ host: device.url, caCert: "cert.pem", mapping }, async (_c, ctx) => {
          await ctx.waitFor((s) => s.length > 0, 10000, "poll over verified TLS");
        }, trusted);
        await withRequest({ host: device.url, SSLVerify: false, mapping }, async (_c, ctx, logs) => {
          await ctx.waitFor((s) => s.length > 0, 10000, "poll over unverified TLS");
          expect(logs.some((l) => l.level === "WARNING" && l.message.includes("SSLVerify is false"))).toBe(true);
        });
      },
      { cert: join(dir, "cert.pem"), key: join(dir, "key.pem") },
    );
  }, 30000);

  test("allowRedirects: false leaves a 302 unfollowed, true follows it", async () => {
    await withDevice({ "/old": { status: 302, body: "", headers: { Location: "/new" } }, "/new": { body: { name: "R", v: 4 } } }, async (device) => {
      await withRequest({ host: device.url, mapping: [poll("old", { allowRedirects: true })] }, async (_c, ctx) => {
        await ctx.waitFor((s) => s.length > 0, 10000, "redirected poll");
        expect(ctx.sent[0]!.telemetry![0]!.values).toEqual({ v: 4 });
      });
      const before = (await device.waitFor((r) => r.some((x) => x.path === "/new"), 5000, "/new recorded")).filter((r) => r.path === "/new").length;
      await withRequest({ host: device.url, mapping: [poll("old", { allowRedirects: false })] }, async (_c, _ctx, logs) => {
        await device.waitFor((r) => r.filter((x) => x.path === "/old").length >= 2, 10000, "second /old");
        await new Promise<void>((res) => {
          const check = () => (logs.some((l) => l.message.includes("/old")) ? res() : setTimeout(check, 20));
          check();
        });
        expect(device.requests().filter((r) => r.path === "/new").length).toBe(before);
      });
    });
  }, 20000);

  test("downlink: attribute updates and RPC as HTTP requests; responseValueExpression replies {value}, otherwise the whole answer", async () => {
    await withDevice(sampleRoutes, async (device) => {
      const raw = adaptedRequestSample(device.port);
      raw.mapping = [];
      await withRequest(raw, async (c) => {
        await c.onAttributeUpdate({ device: "SD-1", data: { send_data: "on", ignored: 1 } });
        const reqs = await device.waitFor((r) => r.some((x) => x.path === "/sensor/SD-1/send_data"), 5000, "attribute update");
        const upd = reqs.find((x) => x.path === "/sensor/SD-1/send_data")!;
        expect([upd.method, JSON.parse(upd.body)]).toEqual(["POST", { send_data: "on" }]);
        expect(reqs.some((x) => x.path.includes("ignored"))).toBe(false);

        expect(await c.onRpc({ device: "SD8500", id: 7, method: "echo", params: {} })).toEqual({ result: { value: "21.5" } });
        expect(await c.onRpc({ device: "SD8500", id: 8, method: "no-reply", params: { speed: 3 } })).toEqual({ result: { accepted: true } });
        const noReply = await device.waitFor((r) => r.some((x) => x.path === "/sensor/SD8500/request/no-reply/8"), 5000, "no-reply request");
        expect(JSON.parse(noReply.find((x) => x.path === "/sensor/SD8500/request/no-reply/8")!.body)).toEqual({ speed: 3 });
        const reserved = await c.onRpc({ device: "SD8500", id: 9, method: "get", params: "requestUrlExpression=sensor/SD8500/request/echo/7;responseValueExpression=${temp};" });
        expect(reserved).toEqual({ result: { value: "21.5" } });
        expect(await c.onRpc({ device: "SD8500", id: 10, method: "get", params: "httpMethod=GET;" })).toEqual({ result: { error: "Please check your RPC params: requestUrlExpression=<url>; is required" } });
        expect(await c.onRpc({ device: "SD8500", id: 11, method: "nothing", params: {} })).toEqual({ result: { error: "No matching RPC request configuration found for method nothing of SD8500" } });
      });
    });
  }, 20000);

  test("nothing is sent after stop, and stop is idempotent", async () => {
    await withDevice({ "/d": { body: { name: "N", v: 1 } } }, async (device) => {
      const ctx = recordingContext({ type: "request" });
      const c = new RequestConnector(RequestConfigSchema.parse({ host: device.url, mapping: [poll("d", { scanPeriod: 0.05 })] }), ctx);
      await c.start();
      await ctx.waitFor((s) => s.length >= 2, 10000, "two polls");
      await c.stop();
      const count = ctx.sent.length;
      const asked = device.requests().length;
      await c.stop();
      // six scan periods: a poll loop still running would have asked again
      await Bun.sleep(300);
      expect(ctx.sent.length).toBe(count);
      expect(device.requests().length).toBeLessThanOrEqual(asked + 1);
    });
  }, 20000);
});
