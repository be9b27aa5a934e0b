// A full disk under the gateway: file or sqlite storage on a 1 MiB tmpfs while the platform is down.
// The MQTT connector acknowledges a device message only once its record is on disk, so every message
// the devices published must reach the platform once space returns, also across a restart.

import { expect, test } from "bun:test";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import type { Started } from "../support/process.ts";
import { tmpfsUnavailable, within, withTmpfs } from "../support/tmpfs.ts";
import { firstOccurrences, sensorConnector, seqByDevice, startWorld, warmUp, type World } from "./fixtures.ts";

const DEVICES = 5;
const skip = tmpfsUnavailable();

/** Publish seq `from`..`to` for every device (QoS 1), each accepted by the device broker. */
async function publish(world: World, from: number, to: number): Promise<void> {
  const sent: Promise<unknown>[] = [];
  for (let seq = from; seq <= to; seq++) {
    for (let d = 0; d < DEVICES; d++) {
      sent.push(world.deviceClient.publishAsync(`sensors/dev-${d}`, JSON.stringify({ seq, k1: seq, k2: d, k3: seq * 2, k4: 1 }), { qos: 1 }));
    }
  }
  await Promise.all(sent);
}

/** Resolves once the gateway's output matches `re` (event driven: on each chunk of output). */
async function outputMatches(gw: Started, re: RegExp): Promise<void> {
  while (!re.test(gw.output())) {
    if (gw.proc.exitCode !== null) throw new Error(`gateway exited; output:\n${gw.output().slice(-3000)}`);
    await new Promise<void>((r) => gw.proc.stderr!.once("data", () => r()));
  }
}

/** Write `path` until the filesystem refuses another byte. */
function takeAllSpace(path: string): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
  } finally {
    closeSync(fd);
  }
}

for (const kind of ["file", "sqlite"] as const) test.skipIf(skip !== undefined)(
  `${kind} storage on a full disk during a platform outage: every device message arrives once space returns${skip ? ` — skipped: ${skip}` : ""}`,
  async () => {
    await withTmpfs(1024, async (storeDir) => {
      const world = await startWorld({ persistent: true });
      let gw: Started | undefined;
      try {
        // A lasting session, so messages not acknowledged before the restart are delivered again.
        const connector = sensorConnector(world.device.port, { broker: { clientId: `tbgw-diskfull-${Math.random().toString(16).slice(2, 10)}`, cleanSession: false } });
        const storage =
          kind === "file" ? { type: "file", data_folder_path: storeDir, max_file_count: 1000, max_records_per_file: 50 } : { type: "sqlite", data_file_path: `${storeDir}/data.db` };
        const files = writeGatewayConfig(mainConfig(world.platform.port, storage, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), {
          "sensors.json": connector,
        });
        gw = await startGateway(files.configPath);
        await warmUp(world);
        await world.platform.stop();
        const perDevice = 80;
        await within(publish(world, 1, 40), 20_000, "device messages before the disk filled");
        // The disk fills up; the next messages cannot be written.
        const filler = join(storeDir, "filler");
        takeAllSpace(filler);
        await within(publish(world, 41, perDevice), 20_000, "device messages while the disk is full");
        await within(outputMatches(gw, new RegExp(`${kind} storage: (disk full writing|writing to .* failed)`)), 20_000, "the gateway noticing the full disk");
        rmSync(filler);
        await within(outputMatches(gw, /writing works again/), 20_000, "the gateway writing again");
        const episode = gw.output();
        // Restarted: what was stored is read back from disk.
        await gw.stop();
        gw = await startGateway(files.configPath);
        await world.platform.start();
        const all = (h: World["harness"]) => {
          const seqs = seqByDevice(h);
          for (let d = 0; d < DEVICES; d++) if (new Set(seqs.get(`dev-${d}`) ?? []).size < perDevice) return false;
          return true;
        };
        await world.harness.waitFor(all, 45_000, "every device message after the disk was full").catch((e) => {
          const seqs = seqByDevice(world.harness);
          const missing = Array.from({ length: DEVICES }, (_, d) => {
            const got = new Set(seqs.get(`dev-${d}`) ?? []);
            const lost = Array.from({ length: perDevice }, (_, i) => i + 1).filter((s) => !got.has(s));
            return lost.length ? `dev-${d} missing ${lost.join(",")}` : "";
          }).filter(Boolean);
          throw new Error(`${missing.join("\n")}\n${gw!.output().slice(-3000)}\n${e.message.slice(0, 300)}`);
        });
        const seqs = seqByDevice(world.harness);
        for (let d = 0; d < DEVICES; d++) {
          expect(firstOccurrences(seqs.get(`dev-${d}`)!), `dev-${d}`).toEqual(Array.from({ length: perDevice }, (_, i) => i + 1));
        }
        // Said once when it started and once when it was over.
        expect((episode.match(/disk full writing/g) ?? []).length).toBe(1);
        expect((episode.match(/writing works again/g) ?? []).length).toBe(1);
      } finally {
        await gw?.stop();
        await world.dispose();
      }
    });
  },
  120_000,
);

test.skipIf(skip !== undefined)(
  `a gateway stopped while the disk stays full exits on its own, and loses nothing across the restart${skip ? ` — skipped: ${skip}` : ""}`,
  async () => {
    await withTmpfs(1024, async (storeDir) => {
      const world = await startWorld({ persistent: true });
      let gw: Started | undefined;
      try {
        const connector = sensorConnector(world.device.port, { broker: { clientId: `tbgw-diskfull-stop-${Math.random().toString(16).slice(2, 10)}`, cleanSession: false } });
        const storage = { type: "file", data_folder_path: storeDir, max_file_count: 1000, max_records_per_file: 50 };
        const files = writeGatewayConfig(mainConfig(world.platform.port, storage, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), { "sensors.json": connector });
        gw = await startGateway(files.configPath);
        await warmUp(world);
        await world.platform.stop();
        const perDevice = 60;
        await within(publish(world, 1, 20), 20_000, "device messages before the disk filled");
        const filler = join(storeDir, "filler");
        takeAllSpace(filler);
        await within(publish(world, 21, perDevice), 20_000, "device messages while the disk is full");
        await within(outputMatches(gw, /file storage: (disk full writing|writing to .* failed)/), 20_000, "the gateway noticing the full disk");
        // SIGTERM with the disk still full: a bounded stop (it used to wait for the disk forever)
        const exited = new Promise<number | null>((r) => gw!.proc.once("exit", (code) => r(code)));
        gw.proc.kill("SIGTERM");
        expect(await within(exited, 30_000, "the gateway exiting with the disk full")).toBe(0);
        expect(gw.output()).toMatch(/storage could not write its last records within 10 s \(disk full\?\); stopping without them/);
        rmSync(filler);
        gw = await startGateway(files.configPath);
        await world.platform.start();
        const all = (h: World["harness"]) => {
          const seqs = seqByDevice(h);
          for (let d = 0; d < DEVICES; d++) if (new Set(seqs.get(`dev-${d}`) ?? []).size < perDevice) return false;
          return true;
        };
        await world.harness.waitFor(all, 45_000, "every device message after the stop on a full disk");
        const seqs = seqByDevice(world.harness);
        for (let d = 0; d < DEVICES; d++) expect(new Set(seqs.get(`dev-${d}`)).size, `dev-${d}`).toBe(perDevice);
      } finally {
        await gw?.stop();
        await world.dispose();
      }
    });
  },
  120_000,
);
