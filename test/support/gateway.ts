// Runs `tb-gw run` as a separate process on config files written to a temp folder: from source
// (`bun cli/main.ts`), or as the compiled single executable that users run (built once per test
// process, node_modules hidden; see binary.ts).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { testBinary, type TestBinary } from "./binary.ts";
import { BUN, CLI } from "./paths.ts";
import { startProcess, type Started } from "./process.ts";

export { BUN, CLI, ROOT } from "./paths.ts";

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

/** `tb-gw run --config configPath` from source; resolves on the "gateway started" line. */
export function startGateway(configPath: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<Started> {
  return startGatewayFrom("source", configPath, { args: extraArgs, env });
}

/** How a test runs the gateway: from source, or the compiled executable users run. */
export type GatewayFrom = "source" | "binary";
/** For tests whose body runs once from source and once from the binary. */
export const FROM_BOTH: readonly GatewayFrom[] = ["source", "binary"];

let shared: TestBinary | undefined;

/**
 * The compiled executable every gateway of this test process runs from. The first call builds it
 * (about 20 s, longer on a loaded machine): call it in a `beforeAll` with a long timeout so no
 * test's own timeout pays for the build.
 */
export function gatewayBinary(): TestBinary {
  shared ??= testBinary("tbgw-gw-bin-");
  return shared;
}

export interface StartOptions {
  args?: string[];
  env?: Record<string, string>;
  /** Output that means the gateway is up (default: the "gateway started" line). */
  ready?: RegExp;
  timeoutMs?: number;
}

/**
 * `tb-gw run --config configPath` from the binary, with the same result as `startGateway`. It runs
 * in the config folder, as an installed gateway would, with node_modules out of reach.
 */
export function startGatewayBinary(configPath: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<Started> {
  return startGatewayFrom("binary", configPath, { args: extraArgs, env });
}

export function startGatewayFrom(from: GatewayFrom, configPath: string, opts: StartOptions = {}): Promise<Started> {
  const run = ["run", "--config", configPath, ...(opts.args ?? [])];
  const [cmd, args] = from === "binary" ? gatewayBinary().command(run) : [BUN, [CLI, ...run]];
  return startProcess(cmd, args, {
    cwd: from === "binary" ? dirname(configPath) : undefined,
    ready: opts.ready ?? /gateway started/,
    timeoutMs: opts.timeoutMs ?? 20000,
    env: { TB_GW_LOG_LEVEL: "INFO", ...opts.env },
  });
}
