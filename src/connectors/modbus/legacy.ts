// Older modbus.json format: `server: {connection fields..., devices: [...]}`. Each device becomes a
// `master.slaves[]` entry inheriting the connection fields it does not set itself (spec §2.5).

const INHERITED = [
  "type", "host", "port", "method", "timeout", "byteOrder", "wordOrder", "retries", "retryOnEmpty",
  "retryOnInvalid", "baudrate", "stopbits", "bytesize", "parity", "strict", "tls", "handleLocalEcho",
];

export function isLegacyConfig(raw: unknown): boolean {
  if (typeof raw !== "object" || raw === null) return false;
  const server = (raw as Record<string, unknown>).server;
  return typeof server === "object" && server !== null && !("master" in raw);
}

export function adaptLegacyConfig(raw: unknown): unknown {
  if (!isLegacyConfig(raw)) return raw;
  const { server, ...rest } = raw as { server: Record<string, unknown> } & Record<string, unknown>;
  const devices = Array.isArray(server.devices) ? server.devices : [];
  const slaves = devices.map((d: Record<string, unknown>) => {
    const slave: Record<string, unknown> = {};
    for (const k of INHERITED) if (server[k] !== undefined) slave[k] = server[k];
    for (const [k, v] of Object.entries(d)) {
      if (k === "attributesPollPeriod" || k === "timeseriesPollPeriod") continue;
      slave[k] = v;
    }
    if (slave.pollPeriod === undefined) slave.pollPeriod = d.timeseriesPollPeriod ?? d.attributesPollPeriod ?? 5000;
    delete slave.strict;
    return slave;
  });
  return { ...rest, master: { slaves } };
}
