// Slave (server) mode: the gateway serves a register map pre-filled from `slave.values` over TCP, and
// polls it like any other slave so values written by external masters reach the platform (spec §2.4).
// Addresses are served as configured (0-based), where pymodbus' sparse block would add 1.

import { ServerTCP } from "modbus-serial";
import type { Logger } from "../../observe/logger.ts";
import { canonicalType, encodeBits, encodeRegisters } from "./codec.ts";
import { objectsCountOf } from "./plan.ts";
import type { KeyConfig, ServerConfig, SlaveConfig } from "./schema.ts";

export interface SlaveServer {
  pollingSlave: SlaveConfig;
  close(): Promise<void>;
}

type Table = "hr" | "ir" | "co" | "di";
const BLOCKS: Array<[keyof ServerConfig["values"], Table, number]> = [
  ["holding_registers", "hr", 3],
  ["input_registers", "ir", 4],
  ["coils_initializer", "co", 1],
  ["discrete_inputs", "di", 2],
];

export async function startSlaveServer(cfg: ServerConfig, log: Logger): Promise<SlaveServer> {
  if (cfg.type !== "TCP") throw new Error(`slave mode over ${cfg.type} is not supported yet (TCP only)`);
  const mem: Record<Table, Map<number, number>> = { hr: new Map(), ir: new Map(), co: new Map(), di: new Map() };
  const attributes: KeyConfig[] = [];
  const timeseries: KeyConfig[] = [];
  const attributeUpdates: KeyConfig[] = [];
  const rpc: KeyConfig[] = [];
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
        words.forEach((w, i) => mem[table].set(address + i, w));
      } catch (e) {
        log.error(`slave value ${k.tag} at ${address}: ${(e as Error).message}`);
      }
    }
    attributes.push(...block.attributes.map((k) => ({ ...k, functionCode: readFc })));
    timeseries.push(...block.timeseries.map((k) => ({ ...k, functionCode: readFc })));
    attributeUpdates.push(...block.attributeUpdates);
    rpc.push(...block.rpc);
  }
  const get = (t: Table) => (addr: number) => mem[t].get(addr) ?? 0;
  const vector = {
    getHoldingRegister: get("hr"),
    getInputRegister: get("ir"),
    getCoil: (a: number) => get("co")(a) === 1,
    getDiscreteInput: (a: number) => get("di")(a) === 1,
    setRegister: (a: number, v: number) => void mem.hr.set(a, v),
    setCoil: (a: number, v: boolean) => void mem.co.set(a, v ? 1 : 0),
  };
  const port = Number(cfg.port);
  const server = new ServerTCP(vector, { host: cfg.host, port, unitID: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("initialized", () => resolve());
    (server as unknown as NodeJS.EventEmitter).once("serverError", (e: Error) => reject(new Error(`slave server on ${cfg.host}:${port}: ${e.message}`)));
  });
  server.on("socketError", (e: Error | null) => log.debug(`slave server client error: ${e?.message}`));
  log.info(`modbus slave server listening on ${cfg.host}:${port}`);
  const pollHost = cfg.host === "0.0.0.0" || cfg.host === "" ? "127.0.0.1" : cfg.host;
  const pollingSlave: SlaveConfig = {
    deviceName: cfg.deviceName, deviceType: cfg.deviceType, type: "TCP", host: pollHost, port, method: "socket",
    unitId: cfg.unitId, timeout: 5, retries: 1, baudrate: cfg.baudrate, stopbits: cfg.stopbits, bytesize: cfg.bytesize,
    parity: cfg.parity, handleLocalEcho: false, repack: cfg.repack, byteOrder: cfg.byteOrder, wordOrder: cfg.wordOrder,
    pollPeriod: cfg.pollPeriod, connectAttemptTimeMs: 500, connectAttemptCount: 2, waitAfterFailedAttemptsMs: 30000,
    delayBetweenRequestsMs: 0, attributes, timeseries, attributeUpdates, rpc,
  };
  return {
    pollingSlave,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
