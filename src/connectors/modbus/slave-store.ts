// The register map of slave (server) mode, shared by every transport that serves it (TCP via
// slave-tcp.ts, UDP via slave-udp.ts, serial via slave-serial.ts, and the gateway's own in-process polling).
// Pre-filled from `slave.values` (spec §2.4); addresses as configured (0-based). Unset addresses read 0.

import { errorText, type Logger } from "../../observe/logger.ts";
import { canonicalType, encodeBits, encodeRegisters } from "./codec.ts";
import { objectsCountOf } from "./plan.ts";
import type { KeyConfig, ServerConfig } from "./schema.ts";

export type Table = "hr" | "ir" | "co" | "di";

const BLOCKS: Array<[keyof ServerConfig["values"], Table, number]> = [
  ["holding_registers", "hr", 3],
  ["input_registers", "ir", 4],
  ["coils_initializer", "co", 1],
  ["discrete_inputs", "di", 2],
];

/** Object ids of FC 43/14 (Read Device Identification) by `identity` key (spec §2.4 names + pymodbus' others). */
const IDENTITY_OBJECTS: Record<string, number> = {
  vendorname: 0x00,
  productcode: 0x01,
  majorminorrevision: 0x02,
  vendorurl: 0x03,
  productname: 0x04,
  modelname: 0x05,
  userapplicationname: 0x06,
};

export class RegisterStore {
  private readonly mem: Record<Table, Map<number, number>> = { hr: new Map(), ir: new Map(), co: new Map(), di: new Map() };
  /** FC 43/14 objects by id; the basic ones (0–2) always present, empty when not configured. */
  readonly identity = new Map<number, string>([[0, ""], [1, ""], [2, ""]]);

  get(table: Table, address: number): number {
    return this.mem[table].get(address) ?? 0;
  }

  set(table: Table, address: number, value: number): void {
    this.mem[table].set(address, table === "co" || table === "di" ? (value ? 1 : 0) : value & 0xffff);
  }
}

export interface SlaveKeys {
  attributes: KeyConfig[];
  timeseries: KeyConfig[];
  attributeUpdates: KeyConfig[];
  rpc: KeyConfig[];
}

/** Builds the store from the `slave` section, and the key lists the gateway polls it back with. */
export function storeFromConfig(cfg: ServerConfig, log: Logger): { store: RegisterStore; keys: SlaveKeys } {
  const store = new RegisterStore();
  const keys: SlaveKeys = { attributes: [], timeseries: [], attributeUpdates: [], rpc: [] };
  for (const [name, table, readFc] of BLOCKS) {
    const block = cfg.values[name];
    if (!block) continue;
    for (const k of [...block.attributes, ...block.timeseries, ...block.attributeUpdates, ...block.rpc]) {
      if (k.value === undefined) continue;
      const address = typeof k.address === "number" ? k.address : Number.parseInt(k.address, 10);
      const count = objectsCountOf(k);
      const type = canonicalType(k.type, count);
      try {
        const words = table === "co" || table === "di"
          ? encodeBits(k.value, count).map((b) => (b ? 1 : 0))
          : encodeRegisters(k.value, type, cfg.byteOrder, cfg.wordOrder, type === "string" || type === "bytes" ? count : 1);
        words.forEach((w, i) => store.set(table, address + i, w));
      } catch (e) {
        log.error(`modbus slave: initial value of ${k.tag} at ${table} ${address}: ${errorText(e)}`);
      }
    }
    keys.attributes.push(...block.attributes.map((k) => ({ ...k, functionCode: readFc })));
    keys.timeseries.push(...block.timeseries.map((k) => ({ ...k, functionCode: readFc })));
    keys.attributeUpdates.push(...block.attributeUpdates);
    keys.rpc.push(...block.rpc);
  }
  for (const [key, value] of Object.entries(cfg.identity ?? {})) {
    const id = IDENTITY_OBJECTS[key.toLowerCase()];
    if (id === undefined) {
      log.warn(`modbus slave: identity.${key} is not a device identification object; known: vendorName, productCode, majorMinorRevision, vendorUrl, productName, modelName, userApplicationName`);
      continue;
    }
    if (value !== undefined && value !== null) store.identity.set(id, String(value));
  }
  return { store, keys };
}
