// Types for tb-gw extensions: custom connectors and custom converters written by users in
// TypeScript or JavaScript and dropped into `<config folder>/extensions/<type>/`. Point your editor
// at this file (`tb-gw schema --types > extensions/tb-gw-extension.d.ts`) and annotate:
//   import type { Gateway, ConnectorConfig, Connector } from "../tb-gw-extension";
// The contract mirrors the Python ThingsBoard gateway's in camelCase, so a Python connector ports
// method by method (send_to_storage → sendToStorage, on_attributes_update → onAttributesUpdate, ...).

/** What became of data handed to sendToStorage. NOT_STORED: storage full or stopping; keep it and retry. */
export type SendStatus = "SUCCESS" | "NOT_STORED" | "FAILURE" | "FORBIDDEN_DEVICE";

export type KeyValues = Record<string, unknown>;

/**
 * Upstream's converted data: one device's attributes and telemetry. `attributes` may be a list of
 * one-key objects (`[{ model: "T1" }]`) or one object; `telemetry` a list of `{ ts, values }`
 * entries or of one-key objects (`[{ temperature: 21.5 }]`, stamped on receipt), or one object.
 */
export interface ConvertedDeviceData {
  deviceName: string;
  deviceType?: string;
  attributes?: KeyValues[] | KeyValues;
  telemetry?: Array<{ ts?: number; values: KeyValues } | KeyValues> | KeyValues;
}

/** A logger with upstream's method names (`warning`, `exception`) and the JS ones. */
export interface ExtensionLogger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** An error with the text of `error` appended. */
  exception(message: string, error?: unknown): void;
}

export interface SerialPortOptions {
  /** default 9600 */
  baudrate?: number;
  /** data bits, default 8 */
  bytesize?: 5 | 6 | 7 | 8;
  /** default "N" */
  parity?: "N" | "E" | "O";
  /** default 1 */
  stopbits?: 1 | 2;
}

/** A serial device opened by the gateway (the binary carries no serialport package). */
export interface SerialPort {
  onData(callback: (chunk: Uint8Array) => void): void;
  /** The port closed or failed (unplugged device): open it again to go on. */
  onEnd(callback: (error?: Error) => void): void;
  write(data: Uint8Array | string): void;
  close(): Promise<void>;
}

/** The gateway as a custom connector sees it (upstream's `gateway` argument). */
export interface Gateway {
  /**
   * Hand converted data to the gateway (upstream send_to_storage). Resolves once it is in storage
   * (for sqlite/file storage: on disk), so the connector may acknowledge its source after awaiting it.
   */
  sendToStorage(connectorName: string, connectorId: string, data: ConvertedDeviceData | ConvertedDeviceData[]): Promise<SendStatus>;
  /**
   * Answer a server-side RPC (upstream send_rpc_reply): `content` becomes the reply's data. Instead,
   * serverSideRpcHandler may return (or resolve to) the reply.
   */
  sendRpcReply(device: string | undefined, requestId: number | string, content: unknown): void;
  /** Shared attributes of a device from the platform; also passed to `callback` when given. */
  requestSharedAttributes(device: string, keys: string[], callback?: (values: KeyValues | undefined, error?: Error) => void): Promise<KeyValues>;
  /** Client attributes of a device from the platform; also passed to `callback` when given. */
  requestClientAttributes(device: string, keys: string[], callback?: (values: KeyValues | undefined, error?: Error) => void): Promise<KeyValues>;
  /**
   * Announce a device without data (v1/gateway/connect). Upstream's form
   * `addDevice(name, { connector: this }, deviceType)` is accepted too.
   */
  addDevice(deviceName: string, deviceType?: string): void;
  addDevice(deviceName: string, content: object, deviceType?: string): void;
  /** The device is gone (v1/gateway/disconnect). */
  delDevice(deviceName: string): void;
  /** Folder of tb_gateway.json, with a trailing slash (upstream get_config_path). */
  getConfigPath(): string;
  /** The connector's logger (its `logLevel` applies). */
  readonly log: ExtensionLogger;
  /** Open a serial device with these line settings (stty + the device file; Linux and macOS). */
  openSerial(port: string, options?: SerialPortOptions): Promise<SerialPort>;
}

/** The connector's config: its file's object, plus `name` (from tb_gateway.json) and `id`. */
export interface ConnectorConfig {
  name: string;
  id: string;
  logLevel?: string;
  [key: string]: unknown;
}

/** Upstream on_attributes_update content. */
export interface AttributesUpdate {
  device: string;
  data: KeyValues;
}

/**
 * Upstream server_side_rpc_handler content: `data` holds the request. For a connector-level RPC
 * (`<type>_<method>` sent to the gateway) `device` is absent and `id`, `method`, `params` are also
 * at the top, as upstream sends them.
 */
export interface RpcRequestContent {
  device?: string;
  data: { id: number | string; method: string; params: unknown };
  id?: number | string;
  method?: string;
  params?: unknown;
}

/** A custom connector: export its class from a module in `extensions/<type>/`. */
export interface Connector {
  open(): void | Promise<void>;
  close(): void | Promise<void>;
  getName(): string;
  getType(): string;
  getConfig(): ConnectorConfig;
  getId?(): string;
  isConnected(): boolean;
  isStopped(): boolean;
  onAttributesUpdate(content: AttributesUpdate): void | Promise<void>;
  /** Return the reply (or a promise of it), or call gateway.sendRpcReply later; undefined = no reply yet. */
  serverSideRpcHandler(content: RpcRequestContent): unknown;
}

/** `connectors[]` entries `{ "type": "<folder>", "class": "<Name>", ... }` construct it like this. */
export interface ConnectorClass {
  new (gateway: Gateway, config: ConnectorConfig, connectorType: string): Connector;
}

/**
 * A custom converter (`"extension": "<Name>"` in a built-in connector's mapping): built with the
 * whole mapping entry (its converter section's keys are also spread at the top, with
 * `extensionConfig`) and a logger. Its `convert` arguments are the connector's (MQTT:
 * `(topic, payload)`; Request and REST: `(config, data)`); the payload is decoded — the JSON value
 * when it parses, else the text — unless the class sets `static SUPPORTS_BYTES_PAYLOAD = true`.
 */
export interface UplinkConverter {
  convert(...args: any[]): ConvertedDeviceData | ConvertedDeviceData[] | null | undefined | Promise<ConvertedDeviceData | ConvertedDeviceData[] | null | undefined>;
}

export interface ConverterClass {
  new (config: KeyValues & { converter?: KeyValues; extensionConfig?: KeyValues }, log: ExtensionLogger): UplinkConverter;
  SUPPORTS_BYTES_PAYLOAD?: boolean;
}

/**
 * A custom downlink converter: built like an uplink one (Modbus: the slave entry; CAN: the device
 * entry; Request and REST: the rule) with a logger. `convert(config, content)` returns what the
 * connector writes: Modbus `downlinkConverter`: coil value(s) for FC 5/15, register values 0..65535
 * (or bytes, big-endian pairs) for FC 6/16; CAN `converters.downlink`: the frame data (integers
 * 0..255 or bytes); Request/REST: `{url, data}`. SNMP's `converter` is one class for both
 * directions: its `convertDownlink(rule, {device, data})`, when present, gives the value a SET
 * writes. Throwing (or an unusable result) fails that attribute update or RPC with the reason.
 */
export interface DownlinkConverter {
  convert?(config: KeyValues, content: any): unknown;
  convertDownlink?(config: KeyValues, content: any): unknown;
}
