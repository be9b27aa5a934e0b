// Remote configuration (spec platform-api.md §7), on when `thingsboard.remoteConfiguration: true`.
// On each platform session the current configuration goes up as client attributes; shared
// attributes named after a connector replace that connector's config file (backed up first) and
// restart only that connector; `active_connectors` removes the ones not listed. Every applied value
// is echoed back as a client attribute.

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { applyEdits, modify, parse as parseJsonc } from "jsonc-parser";
import pkg from "../../package.json" with { type: "json" };
import { ThingsboardSchema, type MainConfig, type ThingsboardConfig } from "../config/main-schema.ts";
import { StorageSchema } from "../storage/schema.ts";
import { setLogLevel } from "../observe/logger.ts";
import { T } from "../platform/topics.ts";
import { errorText, Logger } from "../observe/logger.ts";
import { REMOTE_LOG_LEVELS, REMOTE_LOGGING_SCOPE, RemoteLogging } from "./remote-logging.ts";
import type { LoadedConnector } from "./connectors.ts";
import { replaceFile } from "../common/fs/replace-file.ts";

/** Shared keys asked for after connecting (upstream ATTRIBUTES_FOR_REQUEST). */
export const REMOTE_CONFIG_KEYS = ["RemoteLoggingLevel", "general_configuration", "storage_configuration", "grpc_configuration", "logs_configuration", "active_connectors"];
const NOT_SUPPORTED = new Set(["grpc_configuration"]);
/** Fields whose change needs a new platform connection. */
const CONNECTION_FIELDS = ["host", "port", "security", "qos", "provisioning", "keep_alive", "proxy_host", "proxy_port"] as const;
/** Spec §7: new connection settings get this long before the old ones come back. Tests shorten it. */
const SWITCH_TIMEOUT_MS = Number(process.env.TB_GW_REMOTE_SWITCH_TIMEOUT_MS) || 30_000;
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
  /** Connect with new settings, back to the old ones when no session within timeoutMs; true = switched. */
  switchPlatform?(next: ThingsboardConfig, timeoutMs: number): Promise<boolean>;
  /** Platform session ready (remote logging sends only then); assumed ready when absent. */
  ready?(): boolean;
}

export class RemoteConfiguration {
  /**
   * Per attribute key, the JSON we last published (a few, newest last): a plain broker echoes them
   * back to us, and the platform may repeat them. Only the newest was remembered before, so two
   * values of one key in flight (the current configuration and an echo) bounced between the
   * gateway and such a broker forever, each taken for a new update and echoed again.
   */
  private readonly recentlySent = new Map<string, string[]>();
  /** One update at a time, in arrival order. */
  private queue: Promise<void> = Promise.resolve();
  readonly remoteLogging: RemoteLogging;

  constructor(
    private readonly host: RemoteConfigHost,
    private readonly log: Logger,
  ) {
    this.remoteLogging = new RemoteLogging(
      {
        publish: (topic, payload) => host.publish(topic, payload),
        ready: () => host.ready?.() ?? true,
        connectorRemoteLogging: (name) => {
          const c = host.connectors.find((x) => x.entry.name === name);
          return c ? c.entry.enableRemoteLogging === true : undefined;
        },
      },
      new Logger(REMOTE_LOGGING_SCOPE),
    );
  }

  /** Gateway stopping: no more remote log records. */
  stop(): void {
    this.remoteLogging.stop();
  }

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
      if (this.recentlySent.get(key)?.includes(JSON.stringify(value))) continue; // our own echo, or nothing new
      if (key === "active_connectors") await this.applyActiveConnectors(value);
      else if (key === "RemoteLoggingLevel") await this.applyRemoteLoggingLevel(value);
      else if (key === "general_configuration") await this.applyGeneral(value);
      else if (key === "storage_configuration") await this.applyStorage(value);
      else if (key === "logs_configuration") await this.applyLogs(value);
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
    replaceFile(file, `${JSON.stringify(json, null, 2)}\n`);
    if (!current && !this.addMainEntry(name, type, fileName, value)) {
      if (before !== undefined) replaceFile(file, before);
      return;
    }
    this.log.info(`remote configuration: wrote ${file} for connector "${name}"`);
    const ok = await this.host.reloadConnector(name, `remote configuration of ${name}`);
    if (!ok) {
      this.log.error(`remote configuration for connector "${name}" is not valid for a ${type} connector (run tb-gw validate on ${file}); restoring the previous file, the connector keeps its previous config`);
      if (before !== undefined) replaceFile(file, before);
      return;
    }
    await this.echo(name, value);
  }

  private async applyRemoteLoggingLevel(value: unknown): Promise<void> {
    if (!this.remoteLogging.setLevel(value)) return this.log.error(`remote configuration: RemoteLoggingLevel ${JSON.stringify(value)} is not one of ${REMOTE_LOG_LEVELS.join(", ")}; remote logging unchanged (${this.remoteLogging.currentLevel})`);
    this.log.info(`remote logging level set to ${this.remoteLogging.currentLevel}`);
    await this.echo("RemoteLoggingLevel", value);
  }

  /**
   * A new `thingsboard` section: validated with the main schema first (invalid → error, nothing
   * changes, no echo); changed connection settings → new connection, with fallback; the rest is
   * written to the main config and takes effect after a restart (the services built from it are
   * not rebuilt at run time).
   */
  private async applyGeneral(value: unknown): Promise<void> {
    const raw = withoutTs(value);
    if (!raw) return this.log.error(`remote configuration: general_configuration must be an object (the thingsboard section), got ${JSON.stringify(value)}; nothing changed`);
    const parsed = ThingsboardSchema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `thingsboard.${i.path.join(".")}: ${i.message}`).join("; ");
      return this.log.error(`remote configuration: general_configuration is not a valid thingsboard section (${why}); nothing changed`);
    }
    const next = parsed.data;
    const prev = this.host.config.thingsboard;
    const connChanged = CONNECTION_FIELDS.filter((k) => JSON.stringify(prev[k]) !== JSON.stringify(next[k]));
    // remoteConfiguration is kept: turning it off remotely would cut the branch we sit on
    const otherChanged = (Object.keys(next) as Array<keyof ThingsboardConfig>).filter((k) => !(CONNECTION_FIELDS as readonly string[]).includes(k) && JSON.stringify(prev[k]) !== JSON.stringify(next[k]));
    if (connChanged.length) {
      if (!this.host.switchPlatform) return this.log.error("remote configuration: this gateway cannot switch its platform connection at run time; general_configuration not applied");
      this.log.info(`remote configuration: connection settings changed (${connChanged.join(", ")}); connecting to ${next.host}:${next.port}`);
      const ok = await this.host.switchPlatform({ ...prev, ...pick(next, CONNECTION_FIELDS) }, SWITCH_TIMEOUT_MS);
      if (!ok) return this.log.error(`remote configuration: general_configuration not applied: no platform session with ${next.host}:${next.port} within ${SWITCH_TIMEOUT_MS / 1000} s; kept ${prev.host}:${prev.port}`);
    }
    if (!this.editMain((text) => setPath(text, ["thingsboard"], localGeneral(raw)))) return;
    for (const k of connChanged) (prev as Record<string, unknown>)[k] = next[k];
    if (otherChanged.length) this.log.warn(`remote configuration: thingsboard ${otherChanged.join(", ")} written to ${this.host.configPath}; takes effect after restart`);
    this.log.info("remote configuration: general_configuration applied");
    await this.echo("general_configuration", value);
  }

  /** Storage is never recreated at run time (buffered data would be at stake): written, used after restart. */
  private async applyStorage(value: unknown): Promise<void> {
    const raw = withoutTs(value);
    const parsed = raw ? StorageSchema.safeParse(raw) : undefined;
    if (!parsed?.success) {
      const why = parsed ? parsed.error.issues.map((i) => `storage.${i.path.join(".")}: ${i.message}`).join("; ") : "not an object";
      return this.log.error(`remote configuration: storage_configuration is not a valid storage section (${why}); nothing changed`);
    }
    if (!this.editMain((text) => setPath(text, ["storage"], raw))) return;
    this.log.warn(`remote configuration: storage_configuration written to ${this.host.configPath}; takes effect after restart (storage is not recreated while running)`);
    await this.echo("storage_configuration", value);
  }

  /** logs.json is rewritten (backup first); its root level, when present, applies at once. */
  private async applyLogs(value: unknown): Promise<void> {
    const raw = withoutTs(value);
    if (!raw) return this.log.error(`remote configuration: logs_configuration must be an object (logs.json content), got ${JSON.stringify(value)}; nothing changed`);
    const file = join(this.host.configDir, "logs.json");
    try {
      if (existsSync(file)) backup(file, this.host.configDir);
      replaceFile(file, `${JSON.stringify(raw, null, 2)}\n`);
    } catch (e) {
      return this.log.error(`remote configuration: cannot write ${file}: ${errorText(e)}`);
    }
    const level = (raw.root as { level?: unknown } | undefined)?.level;
    if (typeof level === "string" && level) {
      setLogLevel(level);
      this.log.info(`remote configuration: wrote ${file}; root log level now ${level.toUpperCase()}`);
    } else this.log.info(`remote configuration: wrote ${file} (no root level in it; log level unchanged)`);
    await this.echo("logs_configuration", value);
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
      replaceFile(path, edit(text));
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
    for (const [k, v] of Object.entries(attrs)) {
      const list = this.recentlySent.get(k) ?? [];
      list.push(JSON.stringify(v));
      if (list.length > RECENTLY_SENT_KEPT) list.shift();
      this.recentlySent.set(k, list);
    }
    return this.host.publish(T.meAttributes, JSON.stringify(attrs));
  }
}

/** How many published values per key are recognised when they come back. */
const RECENTLY_SENT_KEPT = 4;

function withoutTs(v: unknown): Record<string, any> | undefined {
  if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
  const { ts: _ts, ...rest } = v as Record<string, any>;
  return rest;
}

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as Pick<T, K>;
}

function setPath(text: string, path: string[], value: unknown): string {
  return applyEdits(text, modify(text, path, value, { formattingOptions: { insertSpaces: true, tabSize: 2 } }));
}

/** As upstream saves it: credentials of the other security types are not kept. */
function localGeneral(raw: Record<string, any>): Record<string, any> {
  const out = { ...raw };
  const sec = raw.security && typeof raw.security === "object" ? { ...raw.security } : undefined;
  if (sec) {
    const type = sec.type ?? (sec.accessToken !== undefined ? "accessToken" : undefined);
    if (type === "accessToken" || type === "tlsAccessToken") for (const k of ["clientId", "username", "password"]) delete sec[k];
    if (type === "usernamePassword") delete sec.accessToken;
    out.security = sec;
  }
  return out;
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
