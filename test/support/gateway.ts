// Runs `tb-gw run` as a separate process on config files written to a temp folder.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startProcess, type Started } from "./process.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const BUN = join(ROOT, "node_modules/.bin/bun");
export const CLI = join(ROOT, "cli/main.ts");

export interface GatewayFiles {
  dir: string;
  configPath: string;
}

/** Write tb_gateway.json and connector files (name → object) into a fresh temp folder. */
export function writeGatewayConfig(main: Record<string, unknown>, files: Record<string, unknown> = {}, dir = mkdtempSync(join(tmpdir(), "tbgw-gw-"))): GatewayFiles {
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content, null, 2));
  const configPath = join(dir, "tb_gateway.json");
  writeFileSync(configPath, JSON.stringify(main, null, 2));
  return { dir, configPath };
}

export function mainConfig(platformPort: number, storage: Record<string, unknown>, connectors: unknown[], tb: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    thingsboard: {
      host: "127.0.0.1",
      port: platformPort,
      security: { type: "accessToken", accessToken: "test-token" },
      statistics: { enable: false, statsSendPeriodInSeconds: 60, customStatsSendPeriodInSeconds: 3600 },
      sessionLimitsTimeoutMs: 2000,
      ...tb,
    },
    storage,
    connectors,
  };
}

export function startGateway(configPath: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<Started> {
  return startProcess(BUN, [CLI, "run", "--config", configPath, ...extraArgs], { ready: /gateway started/, timeoutMs: 20000, env: { TB_GW_LOG_LEVEL: "INFO", ...env } });
}
