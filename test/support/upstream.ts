// The Python gateway's sample configs (read-only reference copies), adapted for tests: each
// function returns a fresh copy changed only where it must point at a test peer or platform
// (host, port, token, device path) — and, where a test says so, a shorter poll period.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SAMPLES } from "./paths.ts";

export { SAMPLES } from "./paths.ts";

/** A fresh parsed copy of a sample file. */
export function sample(name: string): any {
  return JSON.parse(readFileSync(join(SAMPLES, name), "utf8"));
}

export interface ConnectorEntry {
  type: string;
  name: string;
  configuration: string;
}

/**
 * Upstream tb_gateway.json pointed at a platform broker on loopback. `storage` fields replace the
 * sample's (its storage block stays otherwise as shipped).
 */
export function upstreamMain(platformPort: number, connectors: ConnectorEntry[], storage: Record<string, unknown> = {}): any {
  const main = sample("tb_gateway.json");
  main.thingsboard.host = "127.0.0.1";
  main.thingsboard.port = platformPort;
  main.thingsboard.security.accessToken = "test-token";
  Object.assign(main.storage, storage);
  main.connectors = connectors;
  return main;
}

/** mqtt.json against a device broker on loopback. */
export function mqttSample(brokerPort: number): any {
  const c = sample("mqtt.json");
  c.broker.host = "127.0.0.1";
  c.broker.port = brokerPort;
  return c;
}

/** modbus.json: its master reads the pymodbus peer; its slave server listens on a free port. */
export function modbusSample(peerPort: number, slavePort: number, pollPeriod?: number): any {
  const c = sample("modbus.json");
  for (const s of c.master.slaves) {
    s.host = "127.0.0.1";
    s.port = peerPort;
    if (pollPeriod) s.pollPeriod = pollPeriod;
  }
  c.slave.port = slavePort;
  return c;
}

/** modbus_serial.json on a serial device path (a pty). */
export function modbusSerialSample(path: string, pollPeriod?: number): any {
  const c = sample("modbus_serial.json");
  for (const s of c.master.slaves) {
    s.port = path;
    if (pollPeriod) s.pollPeriod = pollPeriod;
  }
  return c;
}

/** opcua.json against the OPC-UA test peer. */
export function opcuaSample(url: string, pollPeriodInMillis?: number): any {
  const c = sample("opcua.json");
  c.server.url = url;
  if (pollPeriodInMillis) c.server.pollPeriodInMillis = pollPeriodInMillis;
  return c;
}

/** bacnet.json: the gateway's endpoint on 127.0.0.1:`localPort`, its device at `peerHost:peerPort`. */
export function bacnetSample(localPort: number, peerHost: string, peerPort: number, pollPeriod?: number): any {
  const c = sample("bacnet.json");
  c.application.host = "127.0.0.1";
  c.application.port = localPort;
  for (const d of c.devices) {
    d.host = peerHost;
    d.port = String(peerPort);
    if (pollPeriod) d.pollPeriod = pollPeriod;
  }
  return c;
}

/** snmp.json: both sample devices asking the snmpd on 127.0.0.1:`port`. */
export function snmpSample(port: number, pollPeriod?: number): any {
  const c = sample("snmp.json");
  for (const d of c.devices) {
    d.ip = "127.0.0.1";
    d.port = port;
    if (pollPeriod) d.pollPeriod = pollPeriod;
  }
  return c;
}
