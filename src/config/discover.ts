// Where the main config is found when `--config` is not given, and the TB_GW_* environment
// overrides that container deployments use instead of editing the file (spec platform-api.md §1.1).

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Path } from "./source.ts";

export const discoveryCandidates = (cwd: string = process.cwd()): string[] => [
  resolve(cwd, "tb_gateway.json"),
  resolve(cwd, "tb_gateway.yaml"),
  resolve(cwd, "config/tb_gateway.json"),
  resolve(cwd, "config/tb_gateway.yaml"),
  "/etc/tb-gw/tb_gateway.json",
  "/etc/tb-gw/tb_gateway.yaml",
  "/etc/thingsboard-gateway/config/tb_gateway.json",
];

/** The first existing candidate, or undefined (the caller says where it looked). */
export function discoverConfig(cwd?: string): string | undefined {
  return discoveryCandidates(cwd).find((p) => existsSync(p));
}

// [environment names (prefixed first: it wins), where the value goes, numeric?]
const overrides: Array<[string[], Path, boolean?]> = [
  [["TB_GW_HOST", "host"], ["thingsboard", "host"]],
  [["TB_GW_PORT", "port"], ["thingsboard", "port"], true],
  [["TB_GW_PROXY_HOST", "proxy_host"], ["thingsboard", "proxy_host"]],
  [["TB_GW_PROXY_PORT", "proxy_port"], ["thingsboard", "proxy_port"], true],
  [["TB_GW_SECURITY_TYPE", "type"], ["thingsboard", "security", "type"]],
  [["TB_GW_ACCESS_TOKEN", "accessToken"], ["thingsboard", "security", "accessToken"]],
  [["TB_GW_CA_CERT", "caCert"], ["thingsboard", "security", "caCert"]],
  [["TB_GW_PRIVATE_KEY", "privateKey"], ["thingsboard", "security", "privateKey"]],
  [["TB_GW_CERT", "cert"], ["thingsboard", "security", "cert"]],
  [["TB_GW_CLIENT_ID", "clientId"], ["thingsboard", "security", "clientId"]],
  [["TB_GW_USERNAME", "username"], ["thingsboard", "security", "username"]],
  [["TB_GW_PASSWORD", "password"], ["thingsboard", "security", "password"]],
  [["TB_GW_RATE_LIMITS"], ["thingsboard", "rateLimits"]],
  [["TB_GW_DP_RATE_LIMITS"], ["thingsboard", "dpRateLimits"]],
  [["TB_GW_MESSAGES_RATE_LIMITS"], ["thingsboard", "messagesRateLimits"]],
  [["TB_GW_DEVICE_MESSAGES_RATE_LIMIT"], ["thingsboard", "deviceMessagesRateLimits"]],
  [["TB_GW_DEVICE_RATE_LIMITS"], ["thingsboard", "deviceRateLimits"]],
  [["TB_GW_DEVICE_DP_RATE_LIMITS"], ["thingsboard", "deviceDpRateLimits"]],
];

export interface EnvOverride {
  variable: string;
  path: Path;
}

/**
 * Merge environment overrides into the raw main config (in place; returns what was applied).
 * Numbers are converted when they look like numbers; anything else is left for the schema to judge.
 */
export function applyEnvOverrides(config: unknown, env: Record<string, string | undefined> = process.env): EnvOverride[] {
  if (typeof config !== "object" || config === null || Array.isArray(config)) return [];
  const applied: EnvOverride[] = [];
  for (const [names, path, numeric] of overrides) {
    const variable = names.find((n) => env[n] !== undefined && env[n] !== "");
    if (!variable) continue;
    const raw = env[variable]!;
    let target = config as Record<string, unknown>;
    for (const k of path.slice(0, -1) as string[]) {
      const next = target[k];
      if (typeof next !== "object" || next === null || Array.isArray(next)) target[k] = {};
      target = target[k] as Record<string, unknown>;
    }
    target[path[path.length - 1] as string] = numeric && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
    applied.push({ variable, path });
  }
  return applied;
}
