// BLE central over BlueZ: one loop per configured device (connect with retries, periodic reads,
// notifications), advertisement-only devices are never connected. Downlink writes characteristics.

import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, ConvertedData, RpcReply, RpcRequest } from "../../core/model.ts";
import { fullUuid, openBluez, type BleSession, type Device, type GattCharacteristic } from "./bluez.ts";
import { BleDeviceConversion, keysOf, type Reading } from "./conversion.ts";
import type { KeyValue } from "./converter.ts";
import type { BleConfig, BleDevice } from "./schema.ts";
import { errorText } from "../../observe/logger.ts";

interface DeviceState {
  config: BleDevice;
  /** built-in converters or the device's `extension` class */
  conversion: BleDeviceConversion;
  device?: Device;
  chars: Map<string, GattCharacteristic>;
  problems: Map<string, string>;
}

function entryBytes(v: unknown): Uint8Array | undefined {
  const raw = v && typeof v === "object" && "value" in v ? (v as { value: unknown }).value : v;
  if (raw instanceof Uint8Array) return raw;
  if (Array.isArray(raw)) return Uint8Array.from(raw as number[]);
  return undefined;
}

const APPLE = "76";
/** Apple's iBeacon frame (company 0x004C, type 0x02 length 0x15): a generic beacon, not sensor data. */
const isIBeacon = (id: string, b: Uint8Array) => id === APPLE && b[0] === 0x02 && b[1] === 0x15;

/**
 * Manufacturer data as BlueZ exposes it ({companyId: bytes}); upstream converts the first entry's
 * bytes. JS orders integer keys ascending, so Apple's id 76 comes first whenever a sensor also
 * sends an iBeacon frame (Govee H5074/H5075 do, see testdata/recorded.json): that frame is skipped
 * when another company's data is present.
 */
export function manufacturerBytes(md: Record<string, unknown> | undefined): Uint8Array | undefined {
  const entries = Object.entries(md ?? {}).flatMap(([id, v]) => {
    const b = entryBytes(v);
    return b ? [[id, b] as const] : [];
  });
  const sensor = entries.find(([id, b]) => !isIBeacon(id, b));
  return (sensor ?? entries[0])?.[1];
}

/** Reserved RPC params `characteristicUUID=<uuid>;value=<v>;`. */
export function parseReservedParams(params: unknown): { uuid: string; value?: string } {
  const fields: Record<string, string> = {};
  for (const part of String(params ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) fields[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  if (!fields.characteristicUUID) throw new Error('params must contain "characteristicUUID=<uuid>;"');
  return { uuid: fields.characteristicUUID, value: fields.value };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class BleConnector implements Connector {
  private session?: BleSession;
  private devices: DeviceState[] = [];
  private stopped = false;
  private timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    private readonly config: BleConfig,
    private readonly ctx: ConnectorContext,
  ) {}

  async start(): Promise<void> {
    // converters first: a device's missing class is reported even where BLE itself is missing
    const states: DeviceState[] = [];
    for (const config of this.config.devices) {
      const onKeyError = (k: string, e: Error) => this.report(state, k, errorText(e)); // called only once state exists
      const state: DeviceState = { config, chars: new Map(), problems: new Map(), conversion: await BleDeviceConversion.load(config, this.ctx, onKeyError) };
      states.push(state);
    }
    // Rejects with a BleUnavailableError that says what is missing (no D-Bus, no bluetoothd, no adapter).
    this.session = await openBluez();
    try {
      await this.session.adapter.startDiscovery();
    } catch (e) {
      this.ctx.log.warn(`cannot start BLE discovery on ${this.session.adapterName}: ${errorText(e)}`);
    }
    for (const state of states) {
      this.devices.push(state);
      const keys = keysOf(state.config);
      if (keys.some((k) => k.key.dataSourceType === "characteristic")) void this.gattLoop(state);
      if (keys.some((k) => k.key.dataSourceType === "advertisement")) void this.advertisementLoop(state);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const d of this.devices) await d.device?.disconnect().catch(() => {});
    await this.session?.adapter.stopDiscovery().catch(() => {});
    this.session?.close();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        r();
      }, ms);
      this.timers.add(t);
    });
  }

  private report(d: DeviceState, key: string, problem: string | undefined): void {
    if (d.problems.get(key) === problem) return;
    const where = `${d.config.name} (${d.config.MACAddress})${key ? ` key "${key}"` : ""}`;
    if (problem) {
      d.problems.set(key, problem);
      this.ctx.log.error(`${where}: ${problem}`);
    } else {
      d.problems.delete(key);
      this.ctx.log.info(`${where}: OK again`);
    }
  }

  private async send(data: ConvertedData[]): Promise<void> {
    if (data.length && !this.stopped) await this.ctx.sendData(data);
  }

  private async connect(d: DeviceState): Promise<void> {
    const adapter = this.session!.adapter;
    let failures = 0;
    while (!this.stopped) {
      try {
        const device = await adapter.waitDevice(d.config.MACAddress, d.config.timeout);
        await Promise.race([device.connect(), sleep(d.config.timeout).then(() => Promise.reject(new Error(`connect timed out after ${d.config.timeout} ms`)))]);
        d.device = device;
        d.chars.clear();
        const gatt = await device.gatt();
        for (const s of await gatt.services()) {
          const service = await gatt.getPrimaryService(s);
          for (const c of await service.characteristics()) d.chars.set(c.toLowerCase(), await service.getCharacteristic(c));
        }
        if (d.config.showMap) this.ctx.log.info(`${d.config.name}: characteristics ${[...d.chars.keys()].join(", ")}`);
        this.report(d, "", undefined);
        return;
      } catch (e) {
        this.report(d, "", `cannot connect: ${errorText(e)}`);
        failures++;
        const long = failures % d.config.connectRetry === 0;
        await this.wait(1000 * (long ? d.config.waitAfterConnectRetries : d.config.connectRetryInSeconds) || 1000);
      }
    }
  }

  private async gattLoop(d: DeviceState): Promise<void> {
    const keys = keysOf(d.config).filter((k) => k.key.dataSourceType === "characteristic");
    while (!this.stopped) {
      await this.connect(d);
      if (this.stopped) return;
      let lost = false;
      d.device!.once("disconnect", () => (lost = true));
      for (const [uuid, group] of groupByUuid(keys.filter((k) => k.key.method === "notify"))) {
        const ch = d.chars.get(uuid);
        if (!ch) {
          this.report(d, uuid, `characteristic ${uuid} not found`);
          continue;
        }
        ch.on("valuechanged", (buf: Buffer) => void d.conversion.characteristic([{ keys: group, data: buf }]).then((out) => this.send(out)));
        await ch.startNotifications().catch((e: Error) => this.report(d, uuid, `notify: ${errorText(e)}`));
      }
      const reads = groupByUuid(keys.filter((k) => k.key.method !== "notify"));
      while (!this.stopped && !lost) {
        // one poll's values convert together (a custom class gets them in one call, as upstream)
        const readings: Reading[] = [];
        for (const [uuid, group] of reads) {
          const ch = d.chars.get(uuid);
          if (!ch) {
            this.report(d, uuid, `characteristic ${uuid} not found`);
            continue;
          }
          try {
            readings.push({ keys: group, data: await ch.readValue() });
          } catch (e) {
            this.report(d, uuid, `read: ${errorText(e)}`);
            if (!/NotSupported|NotPermitted/.test(errorText(e))) lost = true;
          }
        }
        await this.send(await d.conversion.characteristic(readings));
        await this.wait(d.config.pollPeriod);
      }
      await d.device?.disconnect().catch(() => {});
    }
  }

  private async advertisementLoop(d: DeviceState): Promise<void> {
    while (!this.stopped) {
      try {
        const device = await this.session!.adapter.getDevice(d.config.MACAddress);
        await this.send(await d.conversion.advertisement(manufacturerBytes(await device.getManufacturerData())));
        this.report(d, "advertisement", undefined);
      } catch (e) {
        this.report(d, "advertisement", `no advertisement yet: ${errorText(e)}`);
      }
      await this.wait(d.config.pollPeriod);
    }
  }

  private char(d: DeviceState, uuid: string): GattCharacteristic {
    const ch = d.chars.get(fullUuid(uuid));
    if (!ch) throw new Error(d.device ? `characteristic ${uuid} not found on ${d.config.MACAddress}` : `${d.config.name} is not connected`);
    return ch;
  }

  async onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    for (const d of this.devices.filter((x) => x.config.name === update.device))
      for (const rule of d.config.attributeUpdates) {
        if (!(rule.attributeOnThingsBoard in update.data)) continue;
        try {
          await this.char(d, rule.characteristicUUID).writeValueWithResponse(Buffer.from(String(update.data[rule.attributeOnThingsBoard]), "utf8"));
        } catch (e) {
          this.ctx.log.error(`${d.config.name}: writing "${rule.attributeOnThingsBoard}" failed: ${errorText(e)}`);
        }
      }
  }

  async onRpc(req: RpcRequest): Promise<RpcReply | undefined> {
    const d = req.device ? this.devices.find((x) => x.config.name === req.device) : undefined;
    if (!d) return undefined;
    try {
      if (req.method === "get" || req.method === "set") {
        const { uuid, value } = parseReservedParams(req.params);
        if (req.method === "get") return (await this.char(d, uuid).readValue()).toString("utf8");
        await this.char(d, uuid).writeValueWithResponse(Buffer.from(value ?? "", "utf8"));
        return "OK";
      }
      const rule = d.config.serverSideRpc.find((r) => r.methodRPC === req.method);
      if (!rule) {
        this.ctx.log.error(`${d.config.name}: no serverSideRpc rule for RPC method "${req.method}"`);
        return undefined;
      }
      let result: unknown;
      if (rule.methodProcessing === "scan") {
        const dev = await this.session!.adapter.getDevice(d.config.MACAddress);
        result = { name: await dev.getName().catch(() => ""), rssi: await dev.getRSSI().catch(() => null), manufacturerData: Buffer.from(manufacturerBytes(await dev.getManufacturerData().catch(() => undefined)) ?? []).toString("hex") };
      } else if (!rule.characteristicUUID) {
        throw new Error(`rule "${rule.methodRPC}" needs a characteristicUUID`);
      } else if (rule.methodProcessing === "read") {
        result = (await this.char(d, rule.characteristicUUID).readValue()).toString("utf8");
      } else {
        const text = typeof req.params === "string" ? req.params : JSON.stringify(req.params);
        await this.char(d, rule.characteristicUUID).writeValueWithResponse(Buffer.from(text, "utf8"));
        result = "OK";
      }
      return rule.withResponse ? (typeof result === "string" ? result : JSON.stringify(result)) : undefined;
    } catch (e) {
      return { error: errorText(e), success: false };
    }
  }
}

function groupByUuid(keys: KeyValue[]): Map<string, KeyValue[]> {
  const m = new Map<string, KeyValue[]>();
  for (const k of keys) {
    const u = fullUuid(k.key.characteristicUUID ?? "");
    m.set(u, [...(m.get(u) ?? []), k]);
  }
  return m;
}
