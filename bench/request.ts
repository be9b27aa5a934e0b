// Request connector polling cost: one gateway (`tb-gw run` from source, or the compiled binary with
// --binary) polls N HTTP endpoints each every P seconds; the devices are a separate process (Bun's
// HTTP server answering small JSON per path) and Mosquitto + the platform harness play ThingsBoard.
// Reports the gateway's CPU (% of one core, after a warm-up), polls answered per second, datapoints
// delivered per second and RSS.
// Usage: bun bench/request.ts [endpoints=1000] [period_s=1] [seconds=30] [storage=memory|sqlite] [--binary dist/tb-gw]

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandFor } from "../build/targets.ts";
import { BUN, CLI, mainConfig, writeGatewayConfig } from "../test/support/gateway.ts";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { startPlatformHarness } from "../test/support/platform.ts";
import { freePort } from "../test/support/ports.ts";
import { startProcess, type Started } from "../test/support/process.ts";
import { cpuSeconds, rssMb } from "./proc.ts";

const binAt = process.argv.indexOf("--binary");
const binary = binAt > 0 ? process.argv.splice(binAt, 2)[1] : undefined;
const endpoints = Number(process.argv[2] ?? 1000);
const periodS = Number(process.argv[3] ?? 1);
const seconds = Number(process.argv[4] ?? 30);
const storageType = process.argv[5] ?? "memory";
const WARMUP_S = 10;

const dir = mkdtempSync(join(tmpdir(), "tbgw-bench-request-"));
const devicePort = await freePort();
// The device side in its own process, so its CPU is not the gateway's: every path answers JSON.
const deviceScript = join(dir, "devices.ts");
writeFileSync(
  deviceScript,
  `let n = 0;
Bun.serve({ hostname: "127.0.0.1", port: ${devicePort}, fetch(req) {
  n++;
  const id = new URL(req.url).pathname.slice(5);
  return Response.json({ name: "meter-" + id, temperature: 20 + (n % 10) / 10, humidity: 40 + (n % 7), ok: true });
} });
console.log("devices ready");
setInterval(() => console.log("served " + n), 1000);
`,
);
const devices = await startProcess(BUN, [deviceScript], { ready: /devices ready/ });
const broker = await startMosquitto();
const harness = await startPlatformHarness(broker.url);
let delivered = 0;
harness.client.on("message", (topic, payload) => {
  if (topic !== "v1/gateway/telemetry") return;
  const body = JSON.parse(payload.toString()) as Record<string, Array<{ values: object }>>;
  for (const entries of Object.values(body)) for (const e of entries) delivered += Object.keys(e.values).length;
});
const keep = harness.received;
setInterval(() => (keep.length = 0), 500).unref();

const request = {
  host: `http://127.0.0.1:${devicePort}`,
  mapping: Array.from({ length: endpoints }, (_, i) => ({
    url: `/dev/${i}`,
    httpMethod: "GET",
    timeout: 5,
    scanPeriod: periodS,
    converter: {
      type: "json",
      deviceNameJsonExpression: "${name}",
      deviceTypeJsonExpression: "meter",
      attributes: [],
      telemetry: [
        { key: "temperature", type: "double", value: "${temperature}" },
        { key: "humidity", type: "int", value: "${humidity}" },
      ],
    },
  })),
};
const storage = storageType === "sqlite" ? { type: "sqlite", data_file_path: "./data/", max_read_records_count: 1000 } : { type: "memory", read_records_count: 1000, max_records_count: 1_000_000 };
const files = writeGatewayConfig(mainConfig(broker.port, storage, [{ name: "Request", type: "request", configuration: "request.json" }], { statistics: { enable: false } }), { "request.json": request }, dir);
const env = { TB_GW_LOG_LEVEL: "WARNING" };
const run = ["run", "--config", files.configPath];
let gw: Started | undefined;
try {
  gw = binary ? await startProcess(...commandFor(binary, run), { ready: /gateway started/, env, timeoutMs: 60000 }) : await startProcess(BUN, [CLI, ...run], { ready: /gateway started/, env });
  const pid = gw.proc.pid!;
  await Bun.sleep(WARMUP_S * 1000);
  const cpu0 = cpuSeconds(pid);
  const dp0 = delivered;
  const served0 = Number(/served (\d+)/.exec(devices.output().split("\n").filter((l) => l.startsWith("served")).at(-1) ?? "")?.[1] ?? 0);
  const t0 = performance.now();
  await Bun.sleep(seconds * 1000);
  const wall = (performance.now() - t0) / 1000;
  const cpu = ((cpuSeconds(pid) - cpu0) / wall) * 100;
  const served = Number(/served (\d+)/.exec(devices.output().split("\n").filter((l) => l.startsWith("served")).at(-1) ?? "")?.[1] ?? 0) - served0;
  const expected = (endpoints / periodS) * wall;
  console.log(`${endpoints} endpoints every ${periodS} s, ${storageType} storage, ${binary ? "binary" : "source"}, ${seconds} s after ${WARMUP_S} s warm-up:`);
  console.log(`  polls answered: ${(served / wall).toFixed(0)}/s (${((served / expected) * 100).toFixed(1)} % of the ${(endpoints / periodS).toFixed(0)}/s configured)`);
  console.log(`  datapoints delivered: ${((delivered - dp0) / wall).toFixed(0)}/s`);
  console.log(`  gateway CPU: ${cpu.toFixed(1)} % of one core; RSS ${rssMb(pid).toFixed(0)} MB`);
} finally {
  await gw?.stop();
  await devices.stop();
  await harness.close();
  await broker.dispose();
}
