// Remote configuration (spec platform-api.md §7), on when `thingsboard.remoteConfiguration: true`.
// On each platform session the current configuration goes up as client attributes; shared
// attributes named after a connector replace that connector's config file (backed up first) and
// restart only that connector; `active_connectors` removes the ones not listed. Every applied value
// is echoed back as a client attribute.

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { applyEdits, modify, parse as parseJsonc } from "jsonc-parser";
import pkg from "../../package.json" with { type: "json" };
import type { MainConfig } from "../config/main-schema.ts";
import { T } from "../platform/topics.ts";
import { errorText, type Logger } from "../observe/logger.ts";
import type { LoadedConnector } from "./connectors.ts";

/** Shared keys asked for after connecting (upstream ATTRIBUTES_FOR_REQUEST). */
export const REMOTE_CONFIG_KEYS = ["RemoteLoggingLevel", "general_configuration", "storage_configuration", "grpc_configuration", "logs_configuration", "active_connectors"];
const NOT_SUPPORTED = new Set(["general_configuration", "storage_configuration", "grpc_configuration", "logs_configuration", "RemoteLoggingLevel"]);
const MAX_BACKUPS = 10;

/** What remote configuration needs from the gateway. */
export interface RemoteConfigHost {
  configPath: string;
  configDir: string;
  config: MainConfig;
  /** The gateway's live list of loaded connectors. */
  connectors: LoadedConnector[];
  publish(topic: string, payload: string): Promise<void>;
  requestGatewayAttributes(sharedKeys: string[]): void;
  /** Re-read the connector from disk and restart only it; false when its config is not valid. */
  reloadConnector(name: string, why: string): Promise<boolean>;
  removeConnector(name: string): Promise<void>;
}

export class RemoteConfiguration {
  /** Per attribute key, the JSON we last published: a plain broker echoes it back to us, and the platform may repeat it. */
  private lastSent = new Map<string, string>();
  /** One update at a time, in arrival order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: RemoteConfigHost,
    private readonly log: Logger,
  ) {}

  /** Platform session ready: publish the current configuration, then ask for the shared keys. */
  async sessionReady(): Promise<void> {
    const { config } = this.host;
    const ts = Date.now();
    const general: Record<string, unknown> = {
      general_configuration: { ...config.thingsboard, ts },
      storage_configuration: { ...config.storage, ts },
      active_connectors: this.host.connectors.map((c) => c.entry.name),
      Version: pkg.version,
    };
    if (config.grpc) general.grpc_configuration = { ...config.grpc, ts };
    const logsFile = join(this.host.configDir, "logs.json");
    if (existsSync(logsFile)) {
      try {
        general.logs_configuration = { ...JSON.parse(readFileSync(logsFile, "utf8")), ts };
      } catch (e) {
        this.log.warn(`remote configuration: ${logsFile} is not valid JSON (${errorText(e)}); not published`);
      }
    }
    try {
      await this.send(general);
      // one message per connector keeps each under the platform's payload limit
      for (const c of this.host.connectors) await this.send({ [c.entry.name]: this.describeConnector(c, ts) });
    } catch (e) {
      this.log.warn(`remote configuration: publishing the current configuration failed: ${errorText(e)}`);
    }
    this.host.requestGatewayAttributes(REMOTE_CONFIG_KEYS);
  }

  /** Shared attributes of the gateway device (update or attribute-response `shared` section). */
  onSharedAttributes(data: Record<string, unknown>): void {
    this.queue = this.queue.then(() => this.apply(data)).catch((e) => this.log.error(`remote configuration: ${errorText(e)}`));
  }

  /** Resolves when every update received so far is applied (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  private async apply(data: Record<string, unknown>): Promise<void> {
    for (const [key, value] of Object.entries(data ?? {})) {
      if (key.includes("deleted")) continue;
      if (this.lastSent.get(key) === JSON.stringify(value)) continue; // our own echo, or nothing new
      if (key === "active_connectors") await this.applyActiveConnectors(value);
      else if (NOT_SUPPORTED.has(key)) this.log.warn(`remote configuration: "${key}" received but applying it remotely is not supported yet by tb-gw; edit the config files on the gateway host`);
      else if (isConnectorConfig(value)) await this.applyConnector(key, value);
      else this.log.debug(`remote configuration: shared attribute ${key} is not a connector configuration; ignored`);
    }
  }

  private describeConnector(c: LoadedConnector, ts: number): Record<string, unknown> {
    const e = c.entry;
    let configurationJson: unknown = e.configurationJson ?? {};
    if (c.file) {
      try {
        configurationJson = JSON.parse(readFileSync(c.file, "utf8"));
      } catch {
        configurationJson = c.config; // YAML or unreadable: send the parsed form
      }
    }
    const out: Record<string, unknown> = {
      name: e.name,
      type: e.type,
      configuration: e.configuration,
      id: c.id,
      configurationJson,
      logLevel: e.logLevel ?? "INFO",
      enableRemoteLogging: e.enableRemoteLogging ?? false,
    };
    if (e.reportStrategy) out.reportStrategy = e.reportStrategy;
    if (e.configVersion) out.configVersion = e.configVersion;
    out.ts = ts;
    return out;
  }

  private async applyConnector(name: string, value: Record<string, any>): Promise<void> {
    const { configDir } = this.host;
    const current = this.host.connectors.find((c) => c.entry.name === name);
    const type = String(value.type ?? current?.entry.type ?? "");
    if (!type) return this.log.error(`remote configuration for connector "${name}" has no "type"; ignored`);
    if (current && !current.file) return this.log.warn(`remote configuration for connector "${name}": connectors with inline configurationJson cannot be updated remotely yet; give it a configuration file`);
    const fileName = current?.entry.configuration ?? (typeof value.configuration === "string" && value.configuration ? value.configuration : `${name.replace(/[^\w.-]+/g, "_").toLowerCase()}.json`);
    const file = resolve(configDir, fileName);
    const rel = relative(configDir, file);
    if (rel.startsWith("..") || isAbsolute(rel)) return this.log.error(`remote configuration for connector "${name}": file "${fileName}" is outside the config folder ${configDir}; refused`);

    const json: Record<string, unknown> = { ...value.configurationJson };
    // keep the connector's id so the loader does not write a new one (and devices stay attached)
    if (json.id === undefined && (value.id ?? current?.id)) json.id = value.id ?? current?.id;
    const before = existsSync(file) ? readFileSync(file, "utf8") : undefined;
    if (before !== undefined && sameJson(before, json) && current) {
      this.log.info(`remote configuration for connector "${name}" equals ${file}; nothing to restart`);
      return this.echo(name, value);
    }
    if (before !== undefined) backup(file, configDir);
    writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
    if (!current && !this.addMainEntry(name, type, fileName, value)) {
      if (before !== undefined) writeFileSync(file, before);
      return;
    }
    this.log.info(`remote configuration: wrote ${file} for connector "${name}"`);
    const ok = await this.host.reloadConnector(name, `remote configuration of ${name}`);
    if (!ok) {
      this.log.error(`remote configuration for connector "${name}" is not valid for a ${type} connector (run tb-gw validate on ${file}); restoring the previous file, the connector keeps its previous config`);
      if (before !== undefined) writeFileSync(file, before);
      return;
    }
    await this.echo(name, value);
  }

  private async applyActiveConnectors(value: unknown): Promise<void> {
    if (!Array.isArray(value)) return this.log.error(`remote configuration: active_connectors must be a list of connector names, got ${JSON.stringify(value)}`);
    const keep = new Set(value.map(String));
    const gone = this.host.connectors.map((c) => c.entry.name).filter((n) => !keep.has(n));
    if (gone.length) {
      if (!this.editMain((text) => {
        const doc = parseJsonc(text) as { connectors?: Array<{ name?: string }> };
        let out = text;
        // remove from the end so earlier indexes stay valid
        const idx = (doc.connectors ?? []).map((c, i) => (gone.includes(String(c?.name)) ? i : -1)).filter((i) => i >= 0).reverse();
        for (const i of idx) out = applyEdits(out, modify(out, ["connectors", i], undefined, { formattingOptions: { insertSpaces: true, tabSize: 2 } }));
        return out;
      })) return;
      for (const n of gone) {
        this.log.info(`remote configuration: connector "${n}" is not in active_connectors: stopping it and removing it from ${this.host.configPath}`);
        await this.host.removeConnector(n);
      }
    }
    await this.echo("active_connectors", value);
  }

  /** Add a connector entry to the main config; false (logged) when it cannot be edited. */
  private addMainEntry(name: string, type: string, configuration: string, value: Record<string, any>): boolean {
    const entry: Record<string, unknown> = { name, type, configuration };
    for (const k of ["logLevel", "enableRemoteLogging", "configVersion", "reportStrategy"]) if (value[k] !== undefined) entry[k] = value[k];
    return this.editMain((text) => applyEdits(text, modify(text, ["connectors", -1], entry, { isArrayInsertion: true, formattingOptions: { insertSpaces: true, tabSize: 2 } })));
  }

  private editMain(edit: (text: string) => string): boolean {
    const path = this.host.configPath;
    if (!/\.json$/i.test(path)) {
      this.log.error(`remote configuration: editing a YAML main config (${path}) is not supported yet; change its connectors list by hand`);
      return false;
    }
    try {
      const text = readFileSync(path, "utf8");
      backup(path, this.host.configDir);
      writeFileSync(path, edit(text));
      return true;
    } catch (e) {
      this.log.error(`remote configuration: cannot update ${path}: ${errorText(e)}`);
      return false;
    }
  }

  private async echo(key: string, value: unknown): Promise<void> {
    await this.send({ [key]: value }).catch((e) => this.log.warn(`remote configuration: echo of ${key} failed: ${errorText(e)}`));
  }

  private send(attrs: Record<string, unknown>): Promise<void> {
    for (const [k, v] of Object.entries(attrs)) this.lastSent.set(k, JSON.stringify(v));
    return this.host.publish(T.meAttributes, JSON.stringify(attrs));
  }
}

function isConnectorConfig(v: unknown): v is Record<string, any> {
  return !!v && typeof v === "object" && !Array.isArray(v) && typeof (v as any).configurationJson === "object" && (v as any).configurationJson !== null;
}

function sameJson(text: string, obj: unknown): boolean {
  try {
    return JSON.stringify(JSON.parse(text)) === JSON.stringify(obj);
  } catch {
    return false;
  }
}

let backupSeq = 0;

/** Copy `file` into `<configDir>/backup/` with a time stamp; keep the newest MAX_BACKUPS per file. */
export function backup(file: string, configDir: string): void {
  const dir = join(configDir, "backup");
  mkdirSync(dir, { recursive: true });
  const base = basename(file);
  // ISO time sorts by age; the counter separates backups made within one millisecond
  const stamp = `${new Date().toISOString().replace(/[:.]/g, "-")}-${String(++backupSeq % 1000).padStart(3, "0")}`;
  copyFileSync(file, join(dir, `${base}.${stamp}.bak`));
  const mine = readdirSync(dir)
    .filter((f) => f.startsWith(`${base}.`) && f.endsWith(".bak"))
    .sort();
  for (const old of mine.slice(0, Math.max(0, mine.length - MAX_BACKUPS))) rmSync(join(dir, old), { force: true });
}
