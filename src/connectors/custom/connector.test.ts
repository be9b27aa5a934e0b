// The host of a user connector class, in process with a recording context: upstream's data shapes
// normalised, a wrong shape refused (logged once per change), errors of user methods named with file
// and class, close after a failed open, replies through sendRpcReply or the return value, and
// nothing pending after stop.

import { expect, test } from "bun:test";
import { recordingContext } from "../../../test/support/context.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { CustomConnectorHost } from "./connector.ts";
import type { ConnectorClass, Gateway } from "./tb-gw-extension.d.ts";

function host(cls: unknown) {
  const ctx = recordingContext({ type: "probe" });
  const h = new CustomConnectorHost({ cls: cls as ConnectorClass, where: "extensions/probe/probe.ts", className: "Probe" }, { name: ctx.name, id: ctx.id }, ctx);
  return { ctx, h };
}

const base = {
  getName: () => "p", getType: () => "probe", getConfig: () => ({}), isConnected: () => true, isStopped: () => false,
  onAttributesUpdate() {}, serverSideRpcHandler() {}, close() {},
};

test("sendToStorage: upstream's shapes normalised; a wrong shape is FAILURE, logged once until good data comes", async () => {
  let gw!: Gateway;
  class Probe { constructor(g: Gateway) { gw = g; } open() {} }
  Object.assign(Probe.prototype, base);
  const { ctx, h } = host(Probe);
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => logs.push(r));
  try {
    await h.start();
    expect(await gw.sendToStorage("x", "y", { deviceName: "D", attributes: [{ a: 1 }, { b: "2" }], telemetry: [{ t: 1 }, { ts: 5, values: { u: 2 } }] })).toBe("SUCCESS");
    expect(ctx.sent).toEqual([{ deviceName: "D", deviceType: "default", attributes: { a: 1, b: "2" }, telemetry: [{ values: { t: 1 } }, { ts: 5, values: { u: 2 } }] }]);
    expect(await gw.sendToStorage("x", "y", { name: "no deviceName" } as never)).toBe("FAILURE");
    expect(await gw.sendToStorage("x", "y", [{ nope: 1 }] as never)).toBe("FAILURE");
    expect(logs.filter((l) => l.level === "WARNING" && l.message.startsWith("sendToStorage got data without"))).toHaveLength(1);
    await gw.sendToStorage("x", "y", { deviceName: "D", telemetry: { v: 1 } });
    expect(await gw.sendToStorage("x", "y", null as never)).toBe("FAILURE");
    expect(logs.filter((l) => l.level === "WARNING" && l.message.startsWith("sendToStorage got data without"))).toHaveLength(2);
  } finally {
    off();
    await h.stop();
  }
});

test("a throwing open is named with file and class, and close is called to release what it opened", async () => {
  let closed = 0;
  class Probe { open() { throw new Error("port busy"); } close() { closed++; } }
  const { h } = host(Probe);
  await expect(h.start()).rejects.toThrow("extensions/probe/probe.ts class Probe: open failed: port busy");
  expect(closed).toBe(1);
  class NoOpen { close() {} }
  await expect(host(NoOpen).h.start()).rejects.toThrow("extensions/probe/probe.ts class Probe has no open method");
});

test("RPC: the returned reply, a later sendRpcReply, a thrown handler as an error naming the class; stop ends a wait", async () => {
  let gw!: Gateway;
  class Probe {
    constructor(g: Gateway) { gw = g; }
    open() {}
    serverSideRpcHandler(c: { device?: string; data: { id: number; method: string; params: unknown } }) {
      if (c.data.method === "now") return { at: "now" };
      if (c.data.method === "later") setTimeout(() => gw.sendRpcReply(c.device, c.data.id, { at: "later" }), 10);
      if (c.data.method === "boom") throw new Error("no such register");
      return undefined;
    }
  }
  Object.assign(Probe.prototype, { ...base, serverSideRpcHandler: Probe.prototype.serverSideRpcHandler });
  const { h } = host(Probe);
  await h.start();
  expect(await h.onRpc({ device: "D", id: 1, method: "now", params: {} })).toEqual({ at: "now" });
  expect(await h.onRpc({ device: "D", id: 2, method: "later", params: {} })).toEqual({ at: "later" });
  await expect(h.onRpc({ device: "D", id: 3, method: "boom", params: {} })).rejects.toThrow("extensions/probe/probe.ts class Probe: serverSideRpcHandler (boom) failed: no such register");
  const waiting = h.onRpc({ device: "D", id: 4, method: "silent", params: {}, timeoutSeconds: 60 });
  await h.stop();
  expect(await waiting).toBeUndefined();
});
