// What `tb-gw run` does: load the config (or set up the demo), start the gateway, stop it cleanly
// on SIGINT/SIGTERM. Returns the process exit code.

import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { discoverConfig, discoveryCandidates } from "../config/discover.ts";
import { loadGatewayConfig } from "../config/load.ts";
import { Gateway } from "../core/gateway.ts";
import { Pipeline } from "../core/pipeline.ts";
import { buildPublishes } from "../platform/packing.ts";
import { keepOutOfTopTier, restoreJitPolicyWhenBusy } from "./jit-policy.ts";
import { releaseCodePages } from "./release-code-pages.ts";
import { StartupShrink } from "./shrink-after-start.ts";
import { loadForRun, startOfRun } from "./start-of-run.ts";
import { errorText, logger } from "../observe/logger.ts";

export interface RunOptions {
  config?: string;
  demo?: boolean;
  demoPort?: string;
  logLevel?: string;
  /** Instance id (`--instance N`); TB_GW_INSTANCE when absent. */
  instance?: string;
}

/** The demo's broker port unless `--demo-port` says otherwise. */
const DEMO_PORT = 18830;

const log = logger("run");

export async function runGateway(opts: RunOptions): Promise<number> {
  const start = startOfRun(opts);
  if ("exitCode" in start) return start.exitCode;
  const { instance } = start;
  let configPath = opts.config;
  let cleanupDemo: (() => Promise<void>) | undefined;
  if (!configPath && !opts.demo && !discoverConfig()) {
    log.warn(`no config file found (looked at ${discoveryCandidates().join(", ")}); starting the built-in demo. Use --config PATH for your own.`);
    opts.demo = true;
  }
  if (opts.demo) {
    const demo = await setUpDemo(Number(opts.demoPort ?? DEMO_PORT));
    configPath = demo.configPath;
    cleanupDemo = demo.stop;
  }

  // instances share the connector files: they do not write ids into them (they would race);
  // a missing id is derived from the connector name, the same in every instance
  const loaded = await loadForRun(configPath, { writeIds: instance === undefined, instance }, "nothing was started");
  if (!loaded) {
    await cleanupDemo?.();
    return 1;
  }
  for (const d of loaded.diagnostics) if (d.severity === "warning") log.warn(`${d.file}:${d.line}:${d.col}: ${d.message}`);
  // Checking a large config leaves tens of MB of garbage (zod's parse of 300 Modbus slaves x 50
  // keys: ~30 MB); collect it before the connectors start, so their start-up reuses that memory
  // rather than adding to it (peak RSS is start-up's when polling hundreds of slaves). Only then:
  // the collection takes 5-12 ms, which a small config would add to its first telemetry for little.
  if (connectorFilesBytes(loaded.connectors) > LARGE_CONFIG_BYTES) Bun.gc(true);
  if (instance !== undefined) log.info(`instance ${instance} of ${loaded.path} (state in ${join(loaded.configDir, `instance-${instance}`)})`);

  const gw = new Gateway({
    configPath: loaded.path,
    configDir: loaded.configDir,
    config: loaded.config,
    connectors: loaded.connectors,
    instance,
    reloadConnector: async (name) => {
      const again = await loadGatewayConfig(loaded.path, { writeIds: instance === undefined, instance });
      return again.connectors.find((c) => c.entry.name === name);
    },
  });

  let status: { stop(): Promise<void> } | undefined;
  const done = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) {
        log.warn(`${sig} again: exiting now`);
        process.exit(130);
      }
      stopping = true;
      log.info(`${sig} received`);
      void (status?.stop() ?? Promise.resolve())
        .catch(() => {})
        .then(() => gw.stop())
        .then(() => cleanupDemo?.())
        .then(() => resolve(0), (e) => {
          log.error(`shutdown failed: ${errorText(e)}`);
          resolve(1);
        });
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
  });
  const shrink = new StartupShrink(() => releaseCodePages(log));
  restoreJitPolicyWhenBusy(gw, undefined, () => {
    if (shrink.now()) log.debug("data flows before start-up is over: start-up memory released now, before the data path is compiled");
    // while the data path is still interpreted; an idle gateway never loads bun:jsc (~1 MB)
    keepOutOfTopTier([buildPublishes, Pipeline.prototype["putOne"]]);
  });
  try {
    await gw.start();
  } catch (e) {
    log.error(`gateway failed to start: ${errorText(e)}`);
    await gw.stop().catch(() => {});
    await cleanupDemo?.();
    return 1;
  }
  status = await startStatusServer(gw);
  shrink.schedule();
  return done;
}

/** Connector files at least this large (together) leave enough garbage to collect before starting. */
const LARGE_CONFIG_BYTES = 256 * 1024;

function connectorFilesBytes(connectors: Array<{ file?: string }>): number {
  let n = 0;
  for (const c of connectors) if (c.file) n += statSync(c.file, { throwIfNoEntry: false })?.size ?? 0;
  return n;
}

/** The local status endpoint (tb-gw tail, /metrics); the gateway runs on without it if it fails. */
async function startStatusServer(gw: Gateway): Promise<{ stop(): Promise<void> } | undefined> {
  const { StatusSchema } = await import("../config/main-schema.ts");
  const cfg = gw.opts.config.status ?? StatusSchema.parse({});
  const { StatusServer } = await import("../observe/status/server.ts");
  const server = new StatusServer(gw, cfg, log.child("status"));
  try {
    await server.start();
  } catch (e) {
    log.error(`status endpoint failed to start: ${errorText(e)}`);
  }
  return server;
}

async function setUpDemo(port: number): Promise<{ configPath: string; stop: () => Promise<void> }> {
  const { startDemoPlatform } = await import("../demo/platform.ts");
  const { startSimulatedDevices, demoConnectorConfig } = await import("../demo/device.ts");
  let platform;
  let picked = false;
  try {
    platform = await startDemoPlatform(port);
  } catch {
    platform = await startDemoPlatform(0);
    picked = true;
    log.warn(`demo port ${port} is busy; the demo broker uses port ${platform.port}`);
  }
  const dir = demoFolder(platform.port);
  mkdirSync(dir, { recursive: true });
  const main = {
    thingsboard: {
      host: "127.0.0.1",
      port: platform.port,
      security: { type: "accessToken", accessToken: "demo-gateway-token" },
      statistics: { enable: false, statsSendPeriodInSeconds: 60, customStatsSendPeriodInSeconds: 3600 },
      checkConnectorsConfigurationInSeconds: 5,
    },
    storage: { type: "memory", max_records_count: 100000 },
    connectors: [{ name: "Demo MQTT", type: "mqtt", configuration: "demo-mqtt.json" }],
  };
  writeFileSync(join(dir, "tb_gateway.json"), JSON.stringify(main, null, 2));
  writeFileSync(join(dir, "demo-mqtt.json"), JSON.stringify(demoConnectorConfig("127.0.0.1", platform.port), null, 2));
  const devices = await startSimulatedDevices(`mqtt://127.0.0.1:${platform.port}`);
  const summary = setInterval(() => {
    const parts: string[] = [];
    for (const [dev, keys] of platform.latest) parts.push(`${dev}: ${[...keys].map(([k, v]) => `${k}=${v}`).join(" ")}`);
    log.info(`demo platform received ${platform.datapoints} datapoints${parts.length ? ` — ${parts.join(" | ")}` : ""}`);
  }, 5000);
  summary.unref?.();
  process.stderr.write(
    `\ntb-gw demo: a simulated thermometer and power meter publish to a local broker on 127.0.0.1:${platform.port};\n` +
      `the gateway's MQTT connector reads them and sends telemetry to the local platform endpoint on the same port.\n` +
      `Config used: ${join(dir, "tb_gateway.json")} (edit demo-mqtt.json beside it: the connector restarts).\n` +
      `Watch live data: tb-gw tail    Stop: Ctrl-C\n\n`,
  );
  return {
    configPath: join(dir, "tb_gateway.json"),
    stop: async () => {
      clearInterval(summary);
      await devices.stop().catch(() => {});
      await platform.close();
      if (picked) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// One folder per demo port, so two demos at once (the second finds the port busy and takes another)
// do not share demo-mqtt.json: each writes it at start, and the first one's config watcher took the
// second's file as an edit, restarted its connector on the second's broker with the second's client
// id, and the two connectors then threw each other off the broker every second. A port is held by
// one process at a time, so the folder is too; one on a port picked at run time goes with the demo.
function demoFolder(port: number): string {
  const base = process.env.XDG_STATE_HOME ? join(process.env.XDG_STATE_HOME, "tb-gw", "demo") : join(tmpdir(), `tb-gw-demo-${process.getuid?.() ?? 0}`);
  return port === DEMO_PORT ? base : `${base}-${port}`;
}
