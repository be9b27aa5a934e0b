// Example custom connector: upstream's CustomSerialConnector (extensions/serial/custom_serial_connector.py)
// ported to tb-gw's extension contract. Use it with upstream's custom_serial.json:
//   "connectors": [{ "type": "serial", "class": "CustomSerialConnector", "name": "Custom serial connector",
//                    "configuration": "custom_serial.json" }]
// One reader per device: bytes are split into lines at `delimiter` ("\n" by default) and each line
// converted by the device's uplink converter; attribute updates and RPC are written to the port;
// an RPC `withResponse` takes the next text up to `responseUntilDelimiter` as its reply. A port
// that fails or closes is opened again every 5 s.

import type { AttributesUpdate, Connector, ConnectorConfig, Gateway, RpcRequestContent, SerialPort } from "../tb-gw-extension.d.ts";
import * as converters from "./serial_converters.ts";

type DeviceConfig = {
  name?: string; deviceName?: string; type?: string; deviceType?: string;
  port: string; baudrate?: number; bytesize?: 5 | 6 | 7 | 8; parity?: "N" | "E" | "O"; stopbits?: 1 | 2; delimiter?: string;
  converter?: string; downlink_converter?: string;
  attributeUpdates?: Array<{ attributeOnPlatform: string; stringToDevice: string }>;
  serverSideRpc?: Array<{ method: string; type?: string; withResponse?: boolean; responseType?: string; responseUntilDelimiter?: string; responseTimeoutSec?: number }>;
};

const REOPEN_MS = 5000;

class SerialDevice {
  port?: SerialPort;
  private text = "";
  private waiter?: { until: string; resolve(text: string): void };
  private timer?: ReturnType<typeof setTimeout>;
  readonly uplink: converters.SerialUplinkConverter;
  readonly downlink: converters.SerialDownlinkConverter;
  readonly name: string;

  constructor(readonly config: DeviceConfig, private readonly owner: CustomSerialConnector) {
    const all = converters as Record<string, any>;
    this.uplink = new (all[config.converter ?? ""] ?? converters.SerialUplinkConverter)(config);
    this.downlink = new (all[config.downlink_converter ?? ""] ?? converters.SerialDownlinkConverter)();
    this.name = config.name ?? config.deviceName ?? config.port;
  }

  async open(): Promise<void> {
    if (this.owner.isStopped()) return;
    try {
      const port = await this.owner.gateway.openSerial(this.config.port, this.config);
      if (this.owner.isStopped()) return void port.close();
      this.port = port;
      port.onData((chunk) => this.received(Buffer.from(chunk).toString("latin1")));
      port.onEnd((e) => {
        this.port = undefined;
        this.owner.log.warning(`${this.name}: ${this.config.port} closed (${e?.message ?? "end"}); reopening in ${REOPEN_MS / 1000} s`);
        this.later();
      });
      this.owner.log.info(`${this.name}: reading ${this.config.port}`);
    } catch (e) {
      this.owner.log.exception(`${this.name}: cannot open ${this.config.port}; retrying in ${REOPEN_MS / 1000} s`, e);
      this.later();
    }
  }

  private later(): void {
    if (!this.owner.isStopped()) this.timer = setTimeout(() => void this.open(), REOPEN_MS);
  }

  private received(text: string): void {
    this.text += text;
    if (this.waiter) {
      const at = this.text.indexOf(this.waiter.until);
      if (at < 0) return;
      const reply = this.text.slice(0, at);
      this.text = this.text.slice(at + this.waiter.until.length);
      this.waiter.resolve(reply);
      this.waiter = undefined;
    }
    const delimiter = this.config.delimiter ?? "\n";
    for (let at = this.text.indexOf(delimiter); at >= 0; at = this.text.indexOf(delimiter)) {
      const line = this.text.slice(0, at);
      this.text = this.text.slice(at + delimiter.length);
      const data = this.uplink.convert(line);
      if (data.attributes.length || data.telemetry.length) void this.owner.gateway.sendToStorage(this.owner.getName(), this.owner.getId(), data);
    }
  }

  /** The device's next text up to `until`, or undefined after the timeout. */
  response(until: string, timeoutSec: number): Promise<string | undefined> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, timeoutSec * 1000);
      this.waiter = { until, resolve: (s) => (clearTimeout(t), resolve(s)) };
    });
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.port?.close();
    this.port = undefined;
  }
}

export class CustomSerialConnector implements Connector {
  readonly log;
  private readonly devices = new Map<string, SerialDevice>();
  private stopped = true;

  constructor(readonly gateway: Gateway, private readonly config: ConnectorConfig, private readonly connectorType: string) {
    this.log = gateway.log;
    for (const d of (config.devices as DeviceConfig[] | undefined) ?? []) {
      const device = new SerialDevice(d, this);
      this.devices.set(device.name, device);
    }
  }

  async open(): Promise<void> {
    this.stopped = false;
    for (const d of this.devices.values()) await d.open();
  }

  async close(): Promise<void> {
    this.stopped = true;
    for (const d of this.devices.values()) await d.close();
  }

  getName() { return this.config.name; }
  getId() { return this.config.id; }
  getType() { return this.connectorType; }
  getConfig() { return this.config; }
  isConnected() { return [...this.devices.values()].some((d) => d.port !== undefined); }
  isStopped() { return this.stopped; }

  onAttributesUpdate({ device, data }: AttributesUpdate): void {
    const d = this.devices.get(device);
    if (!d?.port) return this.log.warning(`attribute update for ${device}: device unknown or its port is not open`);
    for (const rule of d.config.attributeUpdates ?? []) {
      if (rule.attributeOnPlatform in data) d.port.write(d.downlink.attributeText(rule.stringToDevice, data));
    }
  }

  async serverSideRpcHandler({ device, data }: RpcRequestContent) {
    const d = device === undefined ? undefined : this.devices.get(device);
    const rpc = d?.config.serverSideRpc?.find((r) => r.method === data.method);
    if (!d || !rpc) return { error: `no RPC ${data.method} for device ${device}` };
    if (!d.port) return { error: `${d.config.port} is not open` };
    const answer = rpc.withResponse ? d.response(rpc.responseUntilDelimiter ?? "\n", rpc.responseTimeoutSec ?? 5) : undefined;
    d.port.write(d.downlink.rpcText(rpc, data.params));
    if (!answer) return { success: true };
    const text = await answer;
    return text === undefined ? { error: `no response within ${rpc.responseTimeoutSec ?? 5} s` } : d.uplink.convertResponse(rpc, text);
  }
}
