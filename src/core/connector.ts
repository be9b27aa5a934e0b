// The small interface between the core and every connector. The core never names a protocol:
// it gets descriptors from the registry (src/connectors/index.ts) and talks through these types.

import type { Command } from "commander";
import type { z } from "../config/zod.ts";
import type { Logger } from "../observe/logger.ts";
import type { AttributeUpdate, ConvertedData, RpcReply, RpcRequest } from "./model.ts";

/**
 * What became of data handed to the gateway:
 * - SUCCESS: in storage (durable for sqlite/file), or deliberately filtered by a report strategy;
 * - NOT_STORED: storage did not take it (full, closing) or the connector is stopping: keep it and
 *   do not acknowledge it to its source; try again later or let the source redeliver;
 * - FAILURE: it can never be stored (no device name): acknowledging its source loses nothing more;
 * - FORBIDDEN_DEVICE: the device filter denies the device.
 */
export type SendStatus = "SUCCESS" | "NOT_STORED" | "FAILURE" | "FORBIDDEN_DEVICE";

/** What the gateway offers a running connector. */
export interface ConnectorContext {
  /** Connector name from the main config (`connectors[].name`). */
  readonly name: string;
  /** Connector id (from its file, or generated and written back). */
  readonly id: string;
  /** Connector type as registered (lower case). */
  readonly type: string;
  /** Folder of the main config: relative paths in connector configs resolve against it. */
  readonly configDir: string;
  /** Folder for connector state (PKI folders, caches); created on demand by the connector. */
  readonly dataDir: string;
  /**
   * Instance id when several gateways run on one config (`run --instance N`): client ids and other
   * names the broker or device must see once get it (`${instance}` replaced, else `-N` appended).
   */
  readonly instance?: string;
  readonly log: Logger;
  /** True when the connector is built for `tb-gw run --check`: it is never started; write nothing. */
  readonly checkOnly?: boolean;
  /** The `connectors[]` entry as written in the main config (e.g. a grpc connector's `key`). */
  readonly entry?: Readonly<Record<string, unknown>>;
  /** A running gateway service by its main-config section (`grpc`); undefined when off or failed to start. */
  service?<S extends GatewayService>(section: string): S | undefined;

  /**
   * Hand converted data to the gateway. Resolves once the data is in storage (for sqlite and file
   * storage: committed to disk), so a connector may acknowledge its source after awaiting it.
   */
  sendData(data: ConvertedData | ConvertedData[]): Promise<SendStatus>;
  /** Announce a device (v1/gateway/connect) without data. */
  addDevice(name: string, deviceType?: string): void;
  /** Device gone (v1/gateway/disconnect). */
  delDevice(name: string): void;
  /** Ask the platform for a device's attributes; resolves to key → value (missing keys absent). */
  requestAttributes(device: string, keys: string[], scope: "shared" | "client"): Promise<Record<string, unknown>>;
  /** Send a device RPC reply outside the onRpc promise (rarely needed). */
  sendRpcReply(device: string, id: number | string, reply: RpcReply): void;
  /**
   * Count `count` device messages the connector dropped as unusable (bad payload, no device name)
   * in the connector's statistics (`dropped`) and the status events. The connector logs them
   * itself, once per episode; this does not log.
   */
  countDropped?(reason: string, count?: number, device?: string): void;
  /** Device claiming (v1/gateway/claim): lets a customer claim the device with this secret. */
  claimDevice?(device: string, secretKey: string, durationMs: number): Promise<void>;
}

export interface Connector {
  start(): Promise<void>;
  /** Must be idempotent; nothing may be sent through the context after it resolves. */
  stop(): Promise<void>;
  onAttributeUpdate?(update: AttributeUpdate): void | Promise<void>;
  /**
   * Device RPC (request.device set) or connector RPC (no device). The resolved value is the reply;
   * `undefined` means the connector did not handle it. A thrown error becomes `{error}`.
   */
  onRpc?(request: RpcRequest): Promise<RpcReply | undefined>;
  /** Shared-attribute keys to sync when a device (re)connects; "*" = all. */
  sharedAttributeKeys?(device: string): string[] | "*";
  /**
   * The connector's own running totals since it started, by name (e.g. CAN's `framesReceived`,
   * `framesConverted`, `framesDropped`): counts of what happens on its wire, which the gateway's
   * message counters cannot see. Shown cumulative in the status endpoint (`tb-gw status`, /status,
   * /metrics) and, per period, in the platform statistics' `connectorsStats`. Must be cheap.
   */
  ownCounters?(): Readonly<Record<string, number>>;
}

/** A gateway-wide service configured by a main-config section, started before the connectors and stopped after them. */
export interface GatewayService {
  stop(): Promise<void>;
}

/** Registered in src/connectors/index.ts by section name; the core starts those whose section enables them. */
export interface ServiceDescriptor<S extends GatewayService = GatewayService> {
  /** Whether the section (as parsed by the main schema) asks for the service. */
  enabled(section: unknown): boolean;
  /** Start it; a thrown error is logged by the gateway, which keeps running without the service. */
  start(section: unknown, env: { configDir: string; log: Logger }): Promise<S>;
}

/** Advice on a connector file that the schema cannot give: where (JSON path in the file) and what. */
export interface ConnectorWarning {
  path: Array<string | number>;
  message: string;
}

/**
 * A device a polling connector reads, named so that two configs polling it can be told apart:
 * `validate` on several configs (one per instance) warns when two of them poll one target.
 */
export interface PollTarget {
  /** JSON path of the device entry in the connector file. */
  path: Array<string | number>;
  /** What identifies the device on the wire, e.g. "modbus tcp 10.0.0.5:502 unit 1". */
  target: string;
}

/** One per connector folder; the registry lists them. */
export interface ConnectorDescriptor<C = unknown> {
  /** Type as written in `connectors[].type` (lower case). */
  type: string;
  /** Config schema: the single source of truth for the type, validation and editor JSON Schema. */
  schema: z.ZodMiniType<C>;
  /** Short description for `--help` and docs. */
  title: string;
  /**
   * Build the connector. Protocol libraries are imported inside, lazily, so that loading the
   * registry stays cheap.
   */
  create(config: C, ctx: ConnectorContext): Promise<Connector>;
  /**
   * `tb-gw run --check`: after `create`, build what the connector's start() builds from the config
   * before its first I/O (mapping plans, compiled expressions, converter lookups), with the same
   * builders start() uses, and without opening any device, network connection, server or storage.
   * Throw what would make start() fail; log (through ctx.log) what start() would log and run on
   * with. Not needed where `create` already builds everything from the config.
   */
  prepare?(config: C, ctx: ConnectorContext): Promise<void>;
  /**
   * Offline checks beyond the schema on the file as written (called only when the schema check
   * passed): warnings that `validate` prints and `run` logs with file:line:col. No I/O.
   */
  lint?(raw: Record<string, unknown>): ConnectorWarning[];
  /** The devices this file polls (polling connectors), read from the file as written. No I/O. */
  pollTargets?(raw: Record<string, unknown>): PollTarget[];
  /** `tb-gw scan <type> ...`: adds its own subcommand under `scan` (reusing the connector's code). */
  registerScan?(scan: Command): void;
  /**
   * `tb-gw validate --sample FILE --connector NAME`: run the uplink converter(s) of `config` on one
   * sample payload, offline. `topic` (or similar address) selects the mapping where the protocol has one.
   */
  convertSample?(config: C, sample: Uint8Array, opts: { topic?: string; configDir: string }): Promise<ConvertedData[]>;
}
