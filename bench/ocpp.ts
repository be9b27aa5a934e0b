// OCPP Central System: how many charge points the connector holds, and how many CALLs per second it
// answers and converts. The connector runs here with a counting context (storage and platform
// excluded); the charge points run in a child process (this file with --load) on Bun's WebSocket
// client, so they do not share our event loop. Each charge point boots, then sends MeterValues with
// one CALL outstanding at a time, as OCPP-J requires.
// Usage: bun bench/ocpp.ts [chargePoints=2000] [seconds=10]

import { recordingContext } from "../test/support/context.ts";
import { freePort } from "../test/support/ports.ts";
import { setStderrLogging } from "../src/observe/logger.ts";
import { OcppConnector } from "../src/connectors/ocpp/connector.ts";
import { OcppConfigSchema } from "../src/connectors/ocpp/schema.ts";

if (process.argv[2] === "--load") await load(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
else await main(Number(process.argv[2] ?? 2000), Number(process.argv[3] ?? 10));

async function main(n: number, seconds: number): Promise<void> {
  setStderrLogging(false);
  const port = await freePort();
  const config = OcppConfigSchema.parse({
    centralSystem: { host: "127.0.0.1", port, connection: { type: "insecure" }, security: [{ type: "basic", credentials: [{ username: "cp", password: "secret" }] }] },
    chargePoints: [
      {
        idRegexpPattern: "CP_",
        deviceNameExpression: "${Vendor} ${id}",
        timeseries: [{ messageTypeFilter: "MeterValues", key: "energy", value: "${meter_value[:].sampled_value[:].value}" }],
        attributes: [{ messageTypeFilter: "MeterValues", key: "connector", value: "${connector_id}" }],
      },
    ],
  });
  const ctx = recordingContext({ type: "ocpp" });
  let converted = 0;
  ctx.sendData = async (d) => {
    converted += Array.isArray(d) ? d.length : 1;
    return "SUCCESS";
  };
  ctx.addDevice = () => {};
  const c = new OcppConnector(config, ctx);
  await c.start();
  Bun.gc(true);
  const rssBefore = process.memoryUsage().rss;
  const child = Bun.spawn([process.execPath, import.meta.path, "--load", String(port), String(n), String(seconds)], { stdout: "pipe", stderr: "inherit" });
  const lines: string[] = [];
  let heldRss = 0;
  const reader = (async () => {
    let buf = "";
    for await (const chunk of child.stdout) {
      buf += new TextDecoder().decode(chunk);
      const parts = buf.split("\n");
      buf = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        if (l.startsWith("HELD")) {
          Bun.gc(true);
          heldRss = process.memoryUsage().rss;
        }
      }
    }
  })();
  await child.exited;
  await reader;
  const held = lines.find((l) => l.startsWith("HELD"))?.split(" ") ?? [];
  const rate = lines.find((l) => l.startsWith("RATE"))?.split(" ") ?? [];
  const heldMs = Number(held[2]);
  const answered = Number(rate[1]);
  const rateMs = Number(rate[2]);
  console.log(`charge points held: ${held[1]}/${n}, connected and booted in ${heldMs.toFixed(0)} ms; central system RSS +${((heldRss - rssBefore) / 1e6).toFixed(1)} MB (${(((heldRss - rssBefore) / Number(held[1])) / 1024).toFixed(1)} KB per charge point)`);
  console.log(`MeterValues: ${answered} answered in ${(rateMs / 1000).toFixed(1)} s = ${Math.round((answered / rateMs) * 1000)} CALLs/s (one outstanding per charge point); ${converted} converted; counters ${JSON.stringify(c.counters)}`);
  await c.stop();
}

/** The charge points: connect all, boot all, report; then MeterValues round trips for `seconds`. */
async function load(port: number, n: number, seconds: number): Promise<void> {
  const auth = `Basic ${Buffer.from("cp:secret").toString("base64")}`;
  const t0 = performance.now();
  const sockets: WebSocket[] = [];
  const pending = new Map<WebSocket, (frame: unknown[]) => void>();
  const open = (i: number) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/CP_${i}`, { protocols: ["ocpp1.6"], headers: { Authorization: auth } } as any);
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error(`CP_${i} failed to connect`));
      ws.onmessage = (e) => pending.get(ws)?.(JSON.parse(String(e.data)));
    });
  let seq = 0;
  const call = (ws: WebSocket, action: string, payload: unknown) =>
    new Promise<unknown[]>((resolve) => {
      pending.set(ws, resolve);
      ws.send(JSON.stringify([2, String(++seq), action, payload]));
    });
  // connect in waves so the listen backlog is not the limit being measured
  for (let i = 0; i < n; i += 200) sockets.push(...(await Promise.all(Array.from({ length: Math.min(200, n - i) }, (_, k) => open(i + k)))));
  await Promise.all(sockets.map((ws) => call(ws, "BootNotification", { chargePointVendor: "Bench", chargePointModel: "Load" })));
  console.log(`HELD ${sockets.length} ${performance.now() - t0}`);
  await Bun.sleep(500); // let the parent measure its memory
  const until = performance.now() + seconds * 1000;
  let answered = 0;
  const t1 = performance.now();
  await Promise.all(
    sockets.map(async (ws, i) => {
      for (let k = 0; performance.now() < until; k++) {
        const r = await call(ws, "MeterValues", { connectorId: 1, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: String(i * 1000 + k) }] }] });
        if (r[0] === 3) answered++;
      }
    }),
  );
  console.log(`RATE ${answered} ${performance.now() - t1}`);
  for (const ws of sockets) ws.close();
}
