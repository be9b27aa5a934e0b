// Devices behind the gateway: who owns each, its type, renames, last activity. Persisted to
// <configdir>/connected_devices.json in upstream's format so both gateways read each other's file.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { errorText, type Logger } from "../observe/logger.ts";

export interface DeviceInfo {
  name: string;
  connectorName: string;
  connectorId: string;
  deviceType: string;
  lastActivity: number;
  /** Announced (v1/gateway/connect) in the current platform session. */
  announced: boolean;
}

interface PersistedEntry {
  connectorName: string;
  connectorId: string;
  device_type: string;
  renaming: string | null;
  disconnected: boolean;
}

export const DEVICES_FILE = "connected_devices.json";

export class DeviceRegistry {
  private devices = new Map<string, DeviceInfo>();
  /** connector-side original name → platform name */
  private renames = new Map<string, string>();
  private saveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly configDir: string,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.devices.size;
  }

  get(name: string): DeviceInfo | undefined {
    return this.devices.get(name);
  }

  all(): IterableIterator<DeviceInfo> {
    return this.devices.values();
  }

  /** Record data from a device; returns the entry and whether it is new to the gateway. */
  touch(name: string, connectorName: string, connectorId: string, deviceType: string | undefined, now: number): { info: DeviceInfo; isNew: boolean; changed: boolean } {
    let info = this.devices.get(name);
    if (info) {
      info.lastActivity = now;
      const changed = info.connectorName !== connectorName || (deviceType !== undefined && info.deviceType !== deviceType);
      if (changed) {
        info.connectorName = connectorName;
        info.connectorId = connectorId;
        if (deviceType) info.deviceType = deviceType;
        info.announced = false;
        this.scheduleSave();
      }
      return { info, isNew: false, changed };
    }
    info = { name, connectorName, connectorId, deviceType: deviceType ?? "default", lastActivity: now, announced: false };
    this.devices.set(name, info);
    this.scheduleSave();
    return { info, isNew: true, changed: true };
  }

  remove(name: string): DeviceInfo | undefined {
    const info = this.devices.get(name);
    if (info) {
      this.devices.delete(name);
      this.scheduleSave();
    }
    return info;
  }

  markAllUnannounced(): void {
    for (const d of this.devices.values()) d.announced = false;
  }

  /** Platform name of a connector-side device. */
  platformName(original: string): string {
    return this.renames.get(original) ?? original;
  }

  /** Connector-side name for a platform name. */
  originalName(platform: string): string {
    for (const [orig, renamed] of this.renames) if (renamed === platform) return orig;
    return platform;
  }

  rename(oldName: string, newName: string): void {
    const original = this.originalName(oldName);
    if (original === newName) this.renames.delete(original);
    else this.renames.set(original, newName);
    this.scheduleSave();
  }

  /** Forget a device by either of its names. */
  forget(name: string): boolean {
    const original = this.originalName(name);
    this.renames.delete(original);
    const had = this.devices.delete(original);
    this.scheduleSave();
    return had;
  }

  load(): Array<{ name: string; connectorName: string; connectorId: string; deviceType: string }> {
    const file = join(this.configDir, DEVICES_FILE);
    if (!existsSync(file)) return [];
    let raw: unknown;
    try {
      const text = readFileSync(file, "utf8");
      raw = text.trim() ? JSON.parse(text) : {};
    } catch (e) {
      this.log.warn(`${file} is not valid JSON (${errorText(e)}); starting with an empty device list`);
      return [];
    }
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) return [];
    const out: Array<{ name: string; connectorName: string; connectorId: string; deviceType: string }> = [];
    for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
      if (Array.isArray(v)) {
        // legacy [connectorName, deviceType, renamedName?]
        out.push({ name, connectorName: String(v[0] ?? ""), connectorId: "", deviceType: String(v[1] ?? "default") });
        if (typeof v[2] === "string" && v[2]) this.renames.set(name, v[2]);
        continue;
      }
      if (!v || typeof v !== "object") continue; // legacy string form: upstream starts fresh too
      const e = v as Partial<PersistedEntry>;
      if (e.renaming) this.renames.set(name, e.renaming);
      if (e.disconnected) continue;
      out.push({ name, connectorName: e.connectorName ?? "", connectorId: e.connectorId ?? "", deviceType: e.device_type ?? "default" });
    }
    return out;
  }

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, 200);
  }

  /** Write now (also called on shutdown). Sorted keys, indent 2, like upstream. */
  save(): void {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
    }
    const out: Record<string, PersistedEntry> = {};
    for (const d of this.devices.values()) {
      out[d.name] = {
        connectorName: d.connectorName,
        connectorId: d.connectorId,
        device_type: d.deviceType,
        renaming: this.renames.get(d.name) ?? null,
        disconnected: false,
      };
    }
    for (const [orig, renamed] of this.renames) {
      if (!out[orig]) out[orig] = { connectorName: "", connectorId: "", device_type: "default", renaming: renamed, disconnected: true };
    }
    const sorted = Object.fromEntries(Object.keys(out).sort().map((k) => [k, out[k]]));
    const file = join(this.configDir, DEVICES_FILE);
    try {
      mkdirSync(this.configDir, { recursive: true }); // an instance's own folder (config folder/instance-N)
      writeFileSync(`${file}.tmp`, JSON.stringify(sorted, null, 2));
      renameSync(`${file}.tmp`, file);
    } catch (e) {
      this.log.warn(`cannot save the device list to ${file}: ${errorText(e)}`);
    }
  }
}
