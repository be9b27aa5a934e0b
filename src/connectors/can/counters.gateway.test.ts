// The CAN connector's frame counters through the whole gateway, from source and from the compiled
// binary: the upstream sample can.json (interface slcan, channel a pty; python-can as the device)
// takes a burst of good frames, frames too short for their key and frames on an id nobody
// configured; the status endpoint (what `tb-gw status` and /status show) and the platform
// statistics (connectorsStats, per period) must count exactly what was sent.

import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FROM_BOTH, gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { platformForFile } from "../../../test/support/platform.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import type { Started } from "../../../test/support/process.ts";
import { fetchStatus } from "../../observe/tail/client.ts";
import type { ConnectorStatus } from "../../observe/status/protocol.ts";
import { startCanPeer } from "./test/peer.ts";

const SAMPLE = join(SAMPLES, "can.json");
const CONNECTOR = "CAN sample";

const platform = platformForFile();

/** Sum of one connectorsStats field over the gateway's statistics telemetry since `from`. */
function statsSum(from: number, field: string): number {
  let sum = 0;
  for (const r of platform.harness.received.slice(from)) {
    if (r.topic !== "v1/devices/me/telemetry") continue;
    for (const e of Array.isArray(r.body) ? r.body : [r.body]) sum += (e?.values ?? e)?.connectorsStats?.[CONNECTOR]?.[field] ?? 0;
  }
  return sum;
}

/** The connector's status row (the status socket asked again every 200 ms) once `ok` holds for it. */
async function statusUntil(socket: string, ok: (row: ConnectorStatus) => boolean, timeoutMs: number, what: string): Promise<ConnectorStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: ConnectorStatus | undefined;
  for (;;) {
    last = (await fetchStatus(socket)).connectors.find((c) => c.name === CONNECTOR);
    if (last && ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last row: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("CAN frame counters in status and statistics", () => {
  beforeAll(() => void gatewayBinary(), 300_000);

  for (const from of FROM_BOTH) {
    test(`upstream can.json from ${from}: a burst counted as received, converted, dropped and ignored`, async () => {
      const peer = await startCanPeer();
      let gw: Started | undefined;
      try {
        const canCfg = JSON.parse(readFileSync(SAMPLE, "utf8"));
        canCfg.interface = "slcan";
        canCfg.channel = peer.gatewayPath;
        const statistics = { enable: true, statsSendPeriodInSeconds: 10, customStatsSendPeriodInSeconds: 3600 };
        const main = mainConfig(platform.port, { type: "memory" }, [{ type: "can", name: CONNECTOR, configuration: "can.json" }], { statistics });
        const files = writeGatewayConfig(main, { "can.json": canCfg });
        const socket = join(files.dir, "status.sock");
        main.status = { socket };
        writeGatewayConfig(main, {}, files.dir);
        const received = platform.harness.received.length;
        // the status socket opens after "gateway started": wait for its own line
        gw = await startGatewayFrom(from, files.configPath, { ready: /status socket on / });
        // the bus is open once the sample's three start-up polls arrive
        await peer.until((f) => (f.length >= 3 ? true : undefined), "three polling frames");

        // 1000 rpm/milliage frames (command 48059 in bytes 2..3); 200 four-byte frames on the same
        // id, which match only milliage (no command) and are too short for its bytes 4..5; 100 on
        // an id no key names. The peer puts a counter in each frame's last 4 bytes.
        await peer.burst(1000, 1918, true, "0000bbbb0fa00000", 30_000);
        await peer.burst(200, 1918, true, "00000000", 30_000);
        await peer.burst(100, 0x300, false, "0102030405060708", 30_000);

        const row = await statusUntil(socket, (r) => (r.counters?.framesReceived ?? 0) >= 1300, 30_000, "1,300 frames counted in the status");
        expect(row.counters).toMatchObject({ framesReceived: 1300, framesConverted: 1000, framesDropped: 200, framesIgnored: 100 });
        expect(row.counters!.framesSent).toBeGreaterThanOrEqual(3);
        // the short frames are also the gateway's own count of dropped messages
        expect(row.dropped).toBe(200);

        // statistics are per period: their sum over the periods so far is the whole burst
        await platform.harness.waitFor(() => statsSum(received, "framesReceived") >= 1300 || undefined, 30_000, "the burst in connectorsStats");
        expect(["framesReceived", "framesConverted", "framesDropped", "framesIgnored", "dropped"].map((k) => statsSum(received, k))).toEqual([1300, 1000, 200, 100, 200]);
      } finally {
        await gw?.stop();
        await peer.stop();
      }
    }, 60_000);
  }
});
