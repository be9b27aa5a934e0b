// The gateway service: wires storage, pipeline, platform client, sender, connectors and downlink,
// and owns start-up and graceful shutdown. It knows no protocol.

import { statSync } from "node:fs";
import type { MainConfig } from "../config/main-schema.ts";
import { createStorage } from "../storage/index.ts";
import type { EventStorage } from "../storage/types.ts";
import { PlatformClient } from "../platform/client.ts";
import { IDLE_CHECK_MS, Sender } from "../platform/sender.ts";
import { T } from "../platform/topics.ts";
import { EventBus } from "../observe/events.ts";
import { errorText, Logger } from "../observe/logger.ts";
import { ConnectorManager, type LoadedConnector } from "./connectors.ts";
import type { ConnectorContext, GatewayService } from "./connector.ts";
import { serviceRegistry } from "../connectors/index.ts";
import { DeviceFilter } from "./device-filter.ts";
import { DeviceRegistry, type DeviceInfo } from "./devices.ts";
import { Downlink } from "./downlink.ts";
import { gatewayMethods } from "./gateway-methods.ts";
import { RemoteShell } from "./remote-shell.ts";
import type { ReportStrategyConfig } from "./model.ts";
import { Pipeline } from "./pipeline.ts";
import { RemoteConfiguration } from "./remote-config.ts";
import { ReportStrategyService } from "./report-strategy.ts";
import { Statistics } from "../observe/statistics.ts";
import { join } from "node:path";
import { TIMEOUT, withTimeout } from "./with-timeout.ts";

export interface GatewayOptions {
  configPath: string;
  configDir: string;
  config: MainConfig;
  connectors: LoadedConnector[];
  /** Re-read one connector's file (for the config watcher); undefined = unchanged or invalid. */
  reloadConnector?: (name: string) => Promise<LoadedConnector | undefined>;
  events?: EventBus;
  /** Folder for state (defaults to the config folder, or <config folder>/instance-N with an instance). */
  dataDir?: string;
  /** Instance id when several gateways run on one config (`run --instance N`). */
  instance?: string;
}

/** How long a stop waits for storage to write what it accepted (a full disk may never let it). */
const DURABLE_AT_STOP_MS = 10_000;

export class Gateway {
  readonly events: EventBus;
  readonly log = new Logger("gateway");
  readonly devices: DeviceRegistry;
  readonly storage: EventStorage;
  readonly platform: PlatformClient;
  readonly connectors: ConnectorManager;
  readonly pipeline: Pipeline;
  private readonly sender: Sender;
  private readonly strategies: ReportStrategyService;
  private readonly downlink: Downlink;
  private readonly statistics: Statistics;
  private readonly remote: RemoteConfiguration | undefined;
  private readonly shell: RemoteShell | undefined;
  private timers: Array<ReturnType<typeof setInterval>> = [];
  /** Running services by main-config section (e.g. the gRPC connector server). */
  private readonly services = new Map<string, GatewayService>();
  private fileStamps = new Map<string, number>();
  private stopping = false;
  readonly startedAt = Date.now();

  constructor(readonly opts: GatewayOptions) {
    const cfg = opts.config;
    const tb = cfg.thingsboard;
    this.events = opts.events ?? new EventBus();
    this.devices = new DeviceRegistry(this.stateDir, this.log.child("devices"));
    this.storage = createStorage(cfg.storage, opts.configDir, this.log.child("storage"));
    this.strategies = new ReportStrategyService(
      { ...tb.reportStrategy, reportPeriod: tb.reportStrategy.reportPeriod !== undefined ? Math.max(tb.reportStrategy.reportPeriod - 10, 1) : undefined } as ReportStrategyConfig,
      (connector, data) => this.pipeline.inject(connector, data),
    );
    const filter = tb.deviceFiltering.enable && tb.deviceFiltering.filterFile ? DeviceFilter.fromFile(opts.configDir, tb.deviceFiltering.filterFile, this.log) : DeviceFilter.none();
    this.connectors = new ConnectorManager((l, type, log) => this.makeContext(l, type, log), this.events, this.log);
    this.platform = new PlatformClient(tb, opts.configDir, this.log.child("platform"), this.events, {
      attributeUpdate: (d, data) => this.downlink.attributeUpdate(d, data),
      deviceRpc: (d, data) => this.downlink.deviceRpc(d, data),
      gatewayRpc: (id, m, p) => void this.downlink.gatewayRpc(id, m, p),
      gatewayAttributes: (data) => this.remote?.onSharedAttributes(data),
      ready: () => this.onPlatformReady(),
      lost: () => {
        this.devices.markAllUnannounced();
        this.downlink.sharedCache.clear();
      },
    });
    this.pipeline = new Pipeline({
      storage: this.storage,
      devices: this.devices,
      strategies: this.strategies,
      filter,
      events: this.events,
      log: this.log,
      maxRecordBytes: () => this.platform.limits.maxPayloadBytes,
      announce: (d, type) => this.announce(d, type),
    });
    this.sender = new Sender(
      this.storage,
      this.platform,
      // gathering after storage ran dry: at most 15 ms of latency, never more than minPackSendDelayMS
      // (the MQTT connector's batches come 30 ms apart, so they are read as soon as committed)
      { batchRecords: 512, idleDelayMs: Math.max(IDLE_CHECK_MS, tb.minPackSendDelayMS), gatherMs: Math.min(15, tb.minPackSendDelayMS), platformName: (n) => this.devices.platformName(n), connectorOf: (n) => this.devices.get(n)?.connectorName, onDropped: (platformName, count, reason) => this.countDroppedByPlatform(platformName, count, reason) },
      this.events,
      this.log.child("sender"),
    );
    // remote shell only when configured: it hands the platform a shell on this host
    this.shell = tb.remoteShell ? new RemoteShell(this.log.child("shell")) : undefined;
    this.downlink = new Downlink(this.devices, this.connectors, this.platform, gatewayMethods(this), this.events, this.log, tb.syncDevicesSharedAttributesOnConnect, this.shell?.methods());
    this.statistics = new Statistics(this, tb.statistics, opts.configDir, this.log.child("statistics"));
    if (tb.remoteConfiguration) {
      this.remote = new RemoteConfiguration(
        {
          configPath: opts.configPath,
          configDir: opts.configDir,
          config: cfg,
          connectors: opts.connectors,
          publish: (topic, payload) => this.platform.publish(topic, payload),
          requestGatewayAttributes: (keys) => this.platform.requestGatewayAttributes(keys),
          reloadConnector: (name, why) => this.reloadConnector(name, why),
          removeConnector: (name) => this.removeConnector(name),
          ready: () => this.platform.ready,
          switchPlatform: (tb, ms) => this.platform.switchConnection(tb, ms),
        },
        this.log.child("remote-config"),
      );
    }
  }

  /** Where the device list and connector state live: one folder per instance. */
  get stateDir(): string {
    return this.opts.dataDir ?? (this.opts.instance === undefined ? this.opts.configDir : join(this.opts.configDir, `instance-${this.opts.instance}`));
  }

  private makeContext(loaded: LoadedConnector, type: string, log: Logger): ConnectorContext & { stopped: boolean } {
    const name = loaded.entry.name;
    const id = loaded.id;
    const gw = this;
    const ctx = {
      name,
      id,
      type,
      configDir: this.opts.configDir,
      dataDir: join(this.stateDir, "state", name.replace(/[^\w.-]+/g, "_")),
      instance: this.opts.instance,
      log,
      entry: loaded.entry as Readonly<Record<string, unknown>>,
      service: <S extends GatewayService>(section: string) => this.services.get(section) as S | undefined,
      stopped: false,
      sendData(data: Parameters<ConnectorContext["sendData"]>[0]) {
        if (ctx.stopped) return Promise.resolve("NOT_STORED" as const);
        return gw.pipeline.send(name, id, type, data);
      },
      countDropped(reason: string, count = 1, device?: string) {
        gw.pipeline.countDropped(name, device, reason, count);
      },
      addDevice(device: string, deviceType?: string) {
        if (ctx.stopped) return;
        const { info, changed } = gw.devices.touch(device, name, id, deviceType, Date.now());
        if (changed || !info.announced) gw.announce(info, type);
      },
      delDevice(device: string) {
        if (ctx.stopped) return;
        gw.removeDevice(device);
      },
      requestAttributes(device: string, keys: string[], scope: "shared" | "client") {
        return gw.platform.requestDeviceAttributes(gw.devices.platformName(device), keys, scope);
      },
      sendRpcReply(device: string, rid: number | string, reply: unknown) {
        void gw.platform.replyDeviceRpc(gw.devices.platformName(device), rid, reply).catch(() => {});
      },
      claimDevice(device: string, secretKey: string, durationMs: number) {
        return gw.platform.publish(T.claim, JSON.stringify({ [gw.devices.platformName(device)]: { secretKey, durationMs } }));
      },
    };
    return ctx;
  }

  /** Data the sender dropped (the platform would refuse it by size): counted as its connector's drops. */
  private countDroppedByPlatform(platformName: string, count: number, reason: string): void {
    const device = this.devices.originalName(platformName);
    const connector = this.devices.get(device)?.connectorName;
    if (connector !== undefined) this.pipeline.countDropped(connector, device, reason, count);
  }

  /** v1/gateway/connect + connector attributes, when the platform session is up. */
  private announce(d: DeviceInfo, connectorType: string): void {
    this.events.emit({ kind: "device", state: "connected", device: d.name, connector: d.connectorName, deviceType: d.deviceType });
    this.downlink?.deviceAppeared();
    if (!this.platform.ready) return;
    d.announced = true;
    const name = this.devices.platformName(d.name);
    void this.platform.publish(T.connect, JSON.stringify({ device: name, type: d.deviceType })).catch(() => (d.announced = false));
    const type = connectorType || this.connectors.byName(d.connectorName)?.type || "";
    void this.platform.publish(T.attributes, JSON.stringify({ [name]: { connectorType: type, connectorName: d.connectorName } })).catch(() => {});
    this.syncSharedAttributes(d);
  }

  private syncSharedAttributes(d: DeviceInfo): void {
    if (!this.opts.config.thingsboard.syncDevicesSharedAttributesOnConnect) return;
    const c = this.connectors.byName(d.connectorName);
    const keys = c?.connector.sharedAttributeKeys?.(d.name);
    if (!c || !keys || !c.connector.onAttributeUpdate) return;
    const platformName = this.devices.platformName(d.name);
    const cached = this.downlink.sharedCache.get(platformName);
    if (cached) {
      void Promise.resolve(c.connector.onAttributeUpdate({ device: d.name, data: cached })).catch(() => {});
      return;
    }
    this.platform
      .requestDeviceAttributes(platformName, keys === "*" ? [] : keys, "shared")
      .then((data) => {
        if (Object.keys(data).length) return c.connector.onAttributeUpdate!({ device: d.name, data });
      })
      .catch((e) => this.log.debug(`shared attribute sync for ${d.name}: ${errorText(e)}`));
  }

  removeDevice(device: string): void {
    const info = this.devices.remove(device);
    if (!info) return;
    this.strategies.forgetDevice(device);
    this.events.emit({ kind: "device", state: "disconnected", device, connector: info.connectorName });
    if (this.platform.ready) void this.platform.publish(T.disconnect, JSON.stringify({ device: this.devices.platformName(device) })).catch(() => {});
  }

  private onPlatformReady(): void {
    // Re-announce every known device before data flows again (upstream re-adds saved devices).
    for (const d of this.devices.all()) if (!d.announced) this.announce(d, "");
    this.statistics.sessionStarted();
    this.sender.sessionReady();
    void this.remote?.sessionReady();
  }

  async start(): Promise<void> {
    const t0 = Date.now();
    for (const c of this.opts.connectors) {
      this.strategies.setConnectorStrategy(c.entry.name, (c.reportStrategy ?? c.entry.reportStrategy) as ReportStrategyConfig | undefined);
    }
    for (const d of this.devices.load()) {
      const owner = this.opts.connectors.find((c) => (d.connectorId && c.id === d.connectorId) || c.entry.name === d.connectorName);
      if (owner) this.devices.touch(d.name, owner.entry.name, owner.id, d.deviceType, Date.now());
    }
    const connecting = this.platform.start();
    // With configured credentials a bad security section stops start-up; provisioning may take
    // retries, during which connectors run and data is buffered.
    if (this.opts.config.thingsboard.security) await connecting;
    else connecting.catch((e) => this.log.error(`platform connection not started: ${errorText(e)}`));
    this.sender.start();
    await this.startServices();
    await this.connectors.startAll(this.opts.connectors);
    this.statistics.start();
    this.startWatchers();
    this.log.info(`gateway started in ${Date.now() - t0} ms: ${this.connectors.all().length}/${this.opts.connectors.length} connectors running, storage ${this.storage.kind} (${this.storage.depth()} records waiting)`);
  }

  /** Services whose main-config section enables them; one that fails is logged and the gateway runs on without it. */
  private async startServices(): Promise<void> {
    const cfg = this.opts.config as Record<string, unknown>;
    for (const [section, load] of Object.entries(serviceRegistry)) {
      try {
        const { service } = await load();
        if (!service.enabled(cfg[section])) continue;
        this.services.set(section, await service.start(cfg[section], { configDir: this.opts.configDir, log: this.log.child(section) }));
      } catch (e) {
        this.log.error(`${section} service not started (section "${section}" of ${this.opts.configPath}): ${errorText(e)}`);
      }
    }
  }

  private startWatchers(): void {
    const tb = this.opts.config.thingsboard;
    if (tb.checkConnectorsConfigurationInSeconds > 0 && this.opts.reloadConnector) {
      for (const c of this.opts.connectors) if (c.file) this.fileStamps.set(c.entry.name, mtime(c.file));
      const t = setInterval(() => void this.checkConnectorFiles(), tb.checkConnectorsConfigurationInSeconds * 1000);
      t.unref?.();
      this.timers.push(t);
    }
    const act = tb.checkingDeviceActivity;
    if (act.checkDeviceInactivity) {
      const t = setInterval(() => {
        const cutoff = Date.now() - act.inactivityTimeoutSeconds * 1000;
        for (const d of [...this.devices.all()]) {
          if (d.lastActivity < cutoff) {
            this.log.info(`device ${d.name} inactive for ${act.inactivityTimeoutSeconds} s: disconnecting it`);
            this.removeDevice(d.name);
          }
        }
      }, act.inactivityCheckPeriodSeconds * 1000);
      t.unref?.();
      this.timers.push(t);
    }
  }

  /** A changed connector file restarts only that connector; storage and buffered data stay. */
  async checkConnectorFiles(): Promise<void> {
    for (const c of [...this.opts.connectors]) {
      if (!c.file) continue;
      const now = mtime(c.file);
      if (now === this.fileStamps.get(c.entry.name)) continue;
      this.fileStamps.set(c.entry.name, now);
      if (!(await this.reloadConnector(c.entry.name, `${c.file} changed`)))
        this.log.warn(`${c.file} changed but is not valid; connector ${c.entry.name} keeps running with its previous config`);
    }
  }

  /**
   * Re-read one connector's config from disk and restart only that connector (a name new to the
   * main config starts). Shared by the file watcher and remote configuration. False = not valid.
   */
  async reloadConnector(name: string, why: string): Promise<boolean> {
    const next = await this.opts.reloadConnector?.(name).catch(() => undefined);
    if (!next) return false;
    // the reload may have written an id back: take the file's stamp after it
    if (next.file) this.fileStamps.set(name, mtime(next.file));
    this.log.info(`${why}: restarting connector ${name}`);
    const i = this.opts.connectors.findIndex((c) => c.entry.name === name);
    if (i >= 0) this.opts.connectors[i] = next;
    else this.opts.connectors.push(next);
    this.strategies.setConnectorStrategy(next.entry.name, (next.reportStrategy ?? next.entry.reportStrategy) as ReportStrategyConfig | undefined);
    await this.connectors.restart(next);
    return true;
  }

  /** Stop a connector and forget it (remote configuration's active_connectors). */
  async removeConnector(name: string): Promise<void> {
    await this.connectors.stop(name);
    const i = this.opts.connectors.findIndex((c) => c.entry.name === name);
    if (i >= 0) this.opts.connectors.splice(i, 1);
    this.fileStamps.delete(name);
  }

  /** Graceful stop: stop intake, let in-flight publishes finish (bounded), close storage. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info("stopping: connectors first, then in-flight publishes, then storage");
    for (const t of this.timers) clearInterval(t);
    this.statistics.stop();
    this.remote?.stop();
    await this.connectors.stopAll();
    for (const [section, svc] of this.services) await svc.stop().catch((e) => this.log.warn(`${section} service did not stop cleanly: ${errorText(e)}`));
    this.services.clear();
    this.strategies.stop();
    this.downlink.stop();
    this.shell?.stop();
    // Bounded: on a full disk the last records may never be written. They were not acknowledged
    // to their sources (NOT_STORED), so stopping without them loses nothing a source let go of.
    const durable = await withTimeout(this.storage.whenDurable().catch(() => {}), DURABLE_AT_STOP_MS);
    if (durable === TIMEOUT) this.log.warn(`storage could not write its last records within ${DURABLE_AT_STOP_MS / 1000} s (disk full?); stopping without them: they were not acknowledged to their sources`);
    const drained = await this.sender.drain(3000);
    if (!drained) this.log.warn(`${this.sender.inflightPublishes} publishes not acknowledged at shutdown; they stay in storage and are resent next start`);
    await this.sender.stop();
    this.devices.save();
    this.logUnsent();
    await this.platform.stop();
    await this.storage.close();
    this.log.info("stopped");
  }

  /** Say at shutdown how much was not delivered, and whether it survives (memory storage loses it). */
  private logUnsent(): void {
    const unsent = this.storage.depth();
    if (unsent === 0) return;
    if (this.storage.kind === "memory") this.log.warn(`${unsent} records were still unsent at shutdown and are lost: memory storage keeps nothing across restarts (use sqlite or file storage for that)`);
    else this.log.info(`${unsent} records were still unsent at shutdown; they stay in ${this.storage.kind} storage and are sent after the next start`);
  }

  get senderStats() {
    return this.sender.stats;
  }
}

function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}
