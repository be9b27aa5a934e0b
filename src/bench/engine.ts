// The real uplink engine, in process, for `tb-gw bench` and for tests of the status endpoint:
// a Gateway with no connectors, built from a MainConfig written here, against a platform endpoint
// given by host/port. Data enters through gw.pipeline.send(), as a connector's sendData would.

import { MainConfigSchema, type MainConfig } from "../config/main-schema.ts";
import { Gateway } from "../core/gateway.ts";
import { EventBus } from "../observe/events.ts";

export type StorageKind = "memory" | "sqlite" | "file";

export interface EngineOptions {
  host: string;
  port: number;
  storage: StorageKind;
  /** Temp folder for the config dir and storage files. */
  dir: string;
  /** Records memory storage may hold (the bench keeps depth far below this). */
  maxRecords?: number;
  accessToken?: string;
  maxPayloadSizeBytes?: number;
}

export function engineConfig(o: EngineOptions): MainConfig {
  const storage: Record<string, unknown> = { type: o.storage };
  if (o.storage === "memory") storage.max_records_count = o.maxRecords ?? 1_000_000;
  // sqlite: upstream defaults (batched inserts of up to 1000 rows, 1 GB per file).
  if (o.storage === "sqlite") storage.data_file_path = "./data/";
  // file: upstream's defaults (3 records per file, fsync per record) are for tiny loads; a bench
  // uses the settings a busy site would: large files, fsync every 100 records.
  if (o.storage === "file") Object.assign(storage, { data_folder_path: "./data/", max_records_per_file: 10000, max_file_count: 1000, max_records_between_fsync: 100 });
  return MainConfigSchema.parse({
    thingsboard: {
      host: o.host,
      port: o.port,
      security: { type: "accessToken", accessToken: o.accessToken ?? "bench-gateway-token" },
      statistics: { enable: false, statsSendPeriodInSeconds: 60, customStatsSendPeriodInSeconds: 3600 },
      checkConnectorsConfigurationInSeconds: 0,
      sessionLimitsTimeoutMs: 1000,
      maxPayloadSizeBytes: o.maxPayloadSizeBytes ?? 8196,
      // The engine's own speed is measured, not the platform's default per-device rate limits.
      rateLimits: "0:0,",
      dpRateLimits: "0:0,",
      messagesRateLimits: "0:0,",
      deviceMessagesRateLimits: "0:0,",
      deviceRateLimits: "0:0,",
      deviceDpRateLimits: "0:0,",
    },
    storage,
    connectors: [],
    status: { enabled: false },
  });
}

export function createEngine(o: EngineOptions, events = new EventBus()): Gateway {
  return new Gateway({ configPath: `${o.dir}/tb_gateway.json`, configDir: o.dir, config: engineConfig(o), connectors: [], events });
}

/** Resolves when the platform session is up (limits known), or rejects after `timeoutMs`. */
export function whenPlatformReady(gw: Gateway, timeoutMs = 15000): Promise<void> {
  if (gw.platform.ready) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`the platform endpoint ${gw.opts.config.thingsboard.host}:${gw.opts.config.thingsboard.port} did not accept the gateway within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const off = gw.events.on((e) => {
      if (e.kind === "platform" && e.state === "connected") {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}
