// Starts, stops and restarts connectors through the registry. One failing connector never stops
// the others; a stopped connector's context refuses further data.

import type { Connector, ConnectorContext, ConnectorDescriptor } from "./connector.ts";
import type { ReportStrategyConfig } from "./model.ts";
import type { ConnectorEntry } from "../config/main-schema.ts";
import { knownConnectorTypes, loadDescriptor, notInThisBuild } from "../connectors/index.ts";
import type { EventBus } from "../observe/events.ts";
import { errorText, Logger } from "../observe/logger.ts";
import { withTimeout } from "./with-timeout.ts";

/** A connector entry with its parsed config, as the config loader gives it. */
export interface LoadedConnector {
  entry: ConnectorEntry;
  /** Absolute path of the connector's config file, when it has one. */
  file?: string;
  /** Config parsed by the connector's schema. */
  config: unknown;
  /** Connector id (from the file or generated). */
  id: string;
  /** Connector-level report strategy (the file's top-level one, else the entry's). */
  reportStrategy?: ReportStrategyConfig | { type: string };
  /** The descriptor the config loader resolved (a custom connector's is made per entry). */
  descriptor?: ConnectorDescriptor<any>;
}

export interface RunningConnector {
  name: string;
  type: string;
  id: string;
  loaded: LoadedConnector;
  connector: Connector;
  ctx: ConnectorContext & { stopped: boolean };
}

export type ContextFactory = (loaded: LoadedConnector, type: string, log: Logger) => ConnectorContext & { stopped: boolean };

export class ConnectorManager {
  private running = new Map<string, RunningConnector>();

  constructor(
    private readonly makeContext: ContextFactory,
    private readonly events: EventBus,
    private readonly log: Logger,
  ) {}

  byName(name: string): RunningConnector | undefined {
    return this.running.get(name);
  }

  ofType(type: string): RunningConnector[] {
    const t = type.toLowerCase();
    return [...this.running.values()].filter((c) => c.type === t);
  }

  all(): RunningConnector[] {
    return [...this.running.values()];
  }

  async startAll(list: LoadedConnector[]): Promise<void> {
    await Promise.all(list.map((l) => this.start(l)));
  }

  async start(loaded: LoadedConnector): Promise<boolean> {
    const { name } = loaded.entry;
    const type = loaded.entry.type.toLowerCase();
    this.events.emit({ kind: "connector", name, state: "starting" });
    let descriptor: ConnectorDescriptor<any> | undefined;
    try {
      descriptor = loaded.descriptor ?? (await loadDescriptor(type));
    } catch (e) {
      return this.failed(name, `cannot load the ${type} connector: ${errorText(e)}`);
    }
    if (!descriptor) return this.failed(name, notInThisBuild(type) ?? `unknown connector type "${loaded.entry.type}"; known types: ${knownConnectorTypes().join(", ")}`);
    const log = new Logger(name);
    if (loaded.entry.logLevel) log.setLevel(loaded.entry.logLevel);
    const ctx = this.makeContext(loaded, type, log);
    try {
      const connector = await descriptor.create(loaded.config, ctx);
      await connector.start();
      this.running.set(name, { name, type, id: loaded.id, loaded, connector, ctx });
      this.events.emit({ kind: "connector", name, state: "running" });
      log.info(`started (${type})`);
      return true;
    } catch (e) {
      ctx.stopped = true;
      return this.failed(name, errorText(e));
    }
  }

  private failed(name: string, why: string): false {
    this.log.error(`connector ${name} not started: ${why}`);
    this.events.emit({ kind: "connector", name, state: "failed", detail: why });
    return false;
  }

  async stop(name: string, timeoutMs = 5000): Promise<void> {
    const c = this.running.get(name);
    if (!c) return;
    this.running.delete(name);
    // The connector may still hand over what it holds while it stops (the MQTT connector drains
    // its last batch, acknowledged to the device broker only once stored); after stop() resolves,
    // or after the timeout for one that hangs, nothing more is taken from it.
    try {
      await withTimeout(c.connector.stop(), timeoutMs);
    } catch (e) {
      this.log.warn(`connector ${name} failed to stop cleanly: ${errorText(e)}`);
    } finally {
      c.ctx.stopped = true;
    }
    this.events.emit({ kind: "connector", name, state: "stopped" });
  }

  /** Restart one connector with a new config; the others and the storage are untouched. */
  async restart(loaded: LoadedConnector): Promise<boolean> {
    await this.stop(loaded.entry.name);
    return this.start(loaded);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((n) => this.stop(n)));
  }
}
