// One device's conversion, for both sources (characteristic values and advertisements), with the
// built-in converters or the user's class named by the device's `extension` (spec §2.2: one class
// for both sources), loaded from `<config folder>/extensions/ble/` as custom converters are.
//
// The class is built once per device with the device entry plus upstream's `deviceName` and
// `deviceType` keys (upstream builds it per message with just those two), and called as upstream's
// connector calls it:
// - characteristics: convert({extension, telemetry: [keys], attributes: [keys]}, {telemetry:
//   [{data, ...key}], attributes: [...]}): the characteristic keys of the device as config, and
//   the keys just read (one call per poll) or notified (one call per notification), each with its
//   bytes (`data`, a Buffer);
// - advertisements: convert({extension, telemetry: [keys], attributes: [keys]}, bytes): the
//   advertisement keys, and the manufacturer data (without the company id) as a Buffer.
// Its result (ConvertedData, a list, or upstream's legacy dict) without a device name gets the
// device's. A throw drops that poll's / notification's / advertisement's data, logged once per
// change of the error per source (CustomUplink). `extension` naming one of upstream's built-in
// classes (BytesBLEUplinkConverter, HexBytesBLEUplinkConverter) selects that converter for both
// sources. A class that cannot be loaded is one error, and the built-in converters convert the
// keys instead (every key carries their `valueExpression`), so data keeps flowing.

import { BUILT_IN_INSTEAD, loadCustomUplink, type CustomUplink } from "../../common/converters/custom-uplink.ts";
import type { ConnectorContext } from "../../core/connector.ts";
import type { ConvertedData } from "../../core/model.ts";
import { errorText } from "../../observe/logger.ts";
import { convertKeys, type KeyValue } from "./converter.ts";
import type { BleDevice } from "./schema.ts";

/** Upstream's built-in converter classes, by the `type` they stand for. */
const BUILT_IN: Record<string, "bytes" | "hex"> = { BytesBLEUplinkConverter: "bytes", HexBytesBLEUplinkConverter: "hex" };

export function keysOf(d: BleDevice): KeyValue[] {
  return [...d.telemetry.map((key) => ({ section: "telemetry" as const, key })), ...d.attributes.map((key) => ({ section: "attributes" as const, key }))];
}

/** A characteristic value (read or notified) and the keys configured on that characteristic. */
export interface Reading {
  keys: KeyValue[];
  data: Uint8Array;
}

const asBuffer = (b: Uint8Array) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

export class BleDeviceConversion {
  private constructor(
    readonly device: BleDevice,
    private readonly custom: CustomUplink | undefined,
    /** a key the built-in converter could not convert (logged by the connector once per change) */
    private readonly onKeyError: (key: string, e: Error) => void,
  ) {}

  /** Loads the device's `extension`; never rejects (a class that cannot be used is logged, see the header). */
  static async load(device: BleDevice, ctx: ConnectorContext, onKeyError: (key: string, e: Error) => void): Promise<BleDeviceConversion> {
    const name = device.extension?.trim();
    const where = `${device.name} (${device.MACAddress})`;
    if (!name) return new BleDeviceConversion(device, undefined, onKeyError);
    const builtIn = BUILT_IN[name];
    if (builtIn) return new BleDeviceConversion({ ...device, type: builtIn }, undefined, onKeyError);
    try {
      const custom = await loadCustomUplink({
        extension: name,
        connectorType: "ble",
        configDir: ctx.configDir,
        ctorConfig: { ...device, deviceName: device.name, deviceType: device.deviceType },
        log: ctx.log,
        where,
      });
      ctx.log.info(`${where}: data converted by the custom converter ${name}`);
      return new BleDeviceConversion(device, custom, onKeyError);
    } catch (e) {
      ctx.log.error(`${where}: converter ${name} cannot be used (${errorText(e)}); ${BUILT_IN_INSTEAD}`);
      return new BleDeviceConversion(device, undefined, onKeyError);
    }
  }

  /** Whether a user's class converts this device's data. */
  get isCustom(): boolean {
    return this.custom !== undefined;
  }

  /** upstream's per-source config: the class name and that source's keys by section */
  private sectionConfig(source: "characteristic" | "advertisement") {
    const keys = keysOf(this.device).filter((k) => k.key.dataSourceType === source);
    return {
      extension: this.device.extension,
      telemetry: keys.filter((k) => k.section === "telemetry").map((k) => k.key),
      attributes: keys.filter((k) => k.section === "attributes").map((k) => k.key),
    };
  }

  private get deviceId() {
    return { deviceName: this.device.name, deviceType: this.device.deviceType };
  }

  private withStrategy(out: ConvertedData[]): ConvertedData[] {
    if (this.device.reportStrategy) for (const d of out) d.deviceStrategy ??= this.device.reportStrategy;
    return out;
  }

  /** Characteristic values read in one poll, or one notification's value. */
  async characteristic(readings: Reading[]): Promise<ConvertedData[]> {
    if (readings.length === 0) return [];
    if (!this.custom) {
      return readings.flatMap((r) => {
        const d = convertKeys(this.device, r.keys, r.data, this.onKeyError);
        return d ? [d] : [];
      });
    }
    const data = { telemetry: [] as object[], attributes: [] as object[] };
    for (const r of readings) for (const k of r.keys) data[k.section].push({ data: asBuffer(r.data), ...k.key });
    return this.withStrategy(await this.custom.convert(this.sectionConfig("characteristic"), data, { device: this.deviceId, place: "characteristic" }));
  }

  /** The advertisement keys from one advertisement's manufacturer data (without the company id). */
  async advertisement(bytes: Uint8Array | undefined): Promise<ConvertedData[]> {
    const keys = keysOf(this.device).filter((k) => k.key.dataSourceType === "advertisement");
    if (!bytes || keys.length === 0) return [];
    if (!this.custom) {
      const d = convertKeys({ ...this.device, type: this.device.type ?? "hex" }, keys, bytes, this.onKeyError);
      return d ? [d] : [];
    }
    return this.withStrategy(await this.custom.convert(this.sectionConfig("advertisement"), asBuffer(bytes), { device: this.deviceId, place: "advertisement" }));
  }
}
