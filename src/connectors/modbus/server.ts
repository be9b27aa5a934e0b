// Slave (server) mode: the gateway serves a register map pre-filled from `slave.values` (slave-store.ts)
// over TCP (slave-tcp.ts), UDP (slave-udp.ts) or a serial line (slave-serial.ts, RTU or ASCII), and polls it
// like any other slave so values written by external masters reach the platform (spec §2.4); platform
// attribute updates / RPC write into it through the same poll link. TCP is polled over loopback TCP;
// a serial slave is polled in-process (the device file belongs to the external master).
// Addresses are served as configured (0-based), where pymodbus' sparse block would add 1.

import type { Logger } from "../../observe/logger.ts";
import type { ByteStream } from "./framed-port.ts";
import type { ServerConfig, SlaveConfig } from "./schema.ts";
import { SerialFileStream } from "./serial-file.ts";
import { SerialSlaveServer, StoreLoopbackStream } from "./slave-serial.ts";
import { startTcpSlave } from "./slave-tcp.ts";
import { startUdpSlave } from "./slave-udp.ts";
import { storeFromConfig, type RegisterStore } from "./slave-store.ts";

export interface SlaveServer {
  pollingSlave: SlaveConfig;
  /** set when the gateway must poll its own server in-process instead of over the wire */
  localStream?: () => ByteStream;
  store: RegisterStore;
  close(): Promise<void>;
}

export async function startSlaveServer(cfg: ServerConfig, log: Logger): Promise<SlaveServer> {
  if (cfg.type === "TLS") throw new Error("modbus slave.type tls is not supported yet (use tcp, udp or serial)");
  const { store, keys } = storeFromConfig(cfg, log);
  const pollingSlave: SlaveConfig = {
    deviceName: cfg.deviceName, deviceType: cfg.deviceType, type: "TCP", host: "127.0.0.1", port: cfg.port, method: "socket",
    unitId: cfg.unitId, timeout: 5, retries: 1, baudrate: cfg.baudrate, stopbits: cfg.stopbits, bytesize: cfg.bytesize,
    parity: cfg.parity, handleLocalEcho: false, repack: cfg.repack, byteOrder: cfg.byteOrder, wordOrder: cfg.wordOrder,
    pollPeriod: cfg.pollPeriod, connectAttemptTimeMs: 500, connectAttemptCount: 2, waitAfterFailedAttemptsMs: 30000,
    delayBetweenRequestsMs: 0, ...keys,
  };

  if (cfg.type === "SERIAL") {
    const path = String(cfg.port);
    if (cfg.method !== "rtu" && cfg.method !== "ascii")
      log.warn(`modbus slave on ${path}: method "${cfg.method}" is not a serial framing; serving RTU`);
    const server = new SerialSlaveServer(new SerialFileStream(path, cfg), store, {
      framing: cfg.method === "ascii" ? "ascii" : "rtu", baudrate: cfg.baudrate, handleLocalEcho: cfg.handleLocalEcho, name: path,
      onWrite: (w) => log.debug(`modbus slave ${path}: client wrote ${w.count} object(s) at ${w.table} ${w.address}`),
    }, log);
    await server.open();
    return {
      pollingSlave: { ...pollingSlave, type: "SERIAL", port: `slave:${path}`, method: "rtu", timeout: 1 },
      localStream: () => new StoreLoopbackStream(store),
      store,
      close: () => server.close(),
    };
  }

  const pollHost = cfg.host === "0.0.0.0" || cfg.host === "" ? "127.0.0.1" : cfg.host;
  const port = Number(cfg.port);
  if (cfg.type === "UDP") {
    const server = await startUdpSlave(cfg.host, port, store, log);
    return { pollingSlave: { ...pollingSlave, type: "UDP", host: pollHost, port }, store, close: () => server.close() };
  }

  const server = await startTcpSlave(cfg.host, port, store, log, (w) => log.debug(`modbus slave tcp: client wrote ${w.count} object(s) at ${w.table} ${w.address}`));
  return {
    pollingSlave: { ...pollingSlave, host: pollHost, port },
    store,
    close: () => server.close(),
  };
}
