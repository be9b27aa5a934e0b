// Built-in gateway RPC methods (`gateway_<name>`, spec platform-api.md §5.2).

import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { buildTarget } from "../build-info.ts";
import type { Gateway } from "./gateway.ts";
import type { GatewayMethods } from "./downlink.ts";

export function gatewayMethods(gw: Gateway): GatewayMethods {
  return {
    ping: () => ({ code: 200, resp: "pong" }),
    // upstream's two fields, and which executable answers (a fleet can mix x64 and arm64 builds)
    version: () => ({ code: 200, resp: { current_version: pkg.version, latest_version: pkg.version, build_target: buildTarget ?? "source" } }),
    devices: () => {
      const resp: Record<string, string> = {};
      for (const d of gw.devices.all()) resp[gw.devices.platformName(d.name)] = d.connectorName;
      return { code: 200, resp };
    },
    stats: () => {
      const out: Record<string, number> = { eventsProduced: 0, eventsSent: gw.senderStats.recordsAcked };
      for (const [name, s] of gw.pipeline.stats) {
        out.eventsProduced! += s.recordsStored;
        out[`${name.replace(/\s+/g, "")}EventsProduced`] = s.recordsStored;
        out[`${name.replace(/\s+/g, "")}EventsSent`] = s.recordsStored;
      }
      return out;
    },
    device_renamed: (params) => {
      if (!gw.opts.config.thingsboard.handleDeviceRenaming) return { success: false };
      if (params && typeof params === "object") {
        for (const [oldName, newName] of Object.entries(params as Record<string, unknown>)) {
          if (typeof newName === "string") gw.devices.rename(oldName, newName);
        }
      }
      return { success: true };
    },
    device_deleted: (params) => {
      const name = typeof params === "string" ? params : String((params as { device?: string })?.device ?? "");
      gw.devices.forget(name);
      return { success: true };
    },
    remove_provisioned_credentials: () => {
      const file = join(gw.opts.configDir, ".credentials");
      if (!existsSync(file)) return { error: "no provisioned credentials", code: 404 };
      rmSync(file);
      return { code: 200, resp: "provisioned credentials removed; they will be requested again at the next start" };
    },
    restart: (params) => {
      const s = Math.max(1, Number(params) || 1);
      setTimeout(() => {
        // Exit with a code the service manager restarts on (systemd Restart=on-failure / always).
        void gw.stop().finally(() => process.exit(75));
      }, s * 1000);
      return { success: true };
    },
    reboot: () => ({ error: "reboot is not supported by tb-gw; use the host's service manager", code: 501 }),
    update: () => ({ error: "update over RPC is not supported; install a new tb-gw binary", code: 501 }),
  };
}
