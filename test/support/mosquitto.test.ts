import { test, expect } from "bun:test";
import { startMosquitto } from "./mosquitto.ts";
import mqtt from "mqtt";
test("broker", async () => {
  const b = await startMosquitto();
  try {
    const c = await mqtt.connectAsync(b.url);
    await c.subscribeAsync("a");
    const got = new Promise<string>(r => c.on("message", (_t, p) => r(p.toString())));
    await c.publishAsync("a", "hi", { qos: 1 });
    expect(await got).toBe("hi");
    await c.endAsync();
  } finally { await b.dispose(); }
});
