// `tb-gw scan ble`: BLE discovery through BlueZ. Progress on stderr, results on stdout (table or
// --json). Exit 0 = devices found, 1 = none found or BLE unavailable (the message says why).

import chalk from "chalk";
import { BleUnavailableError, openBluez, type Device } from "./bluez.ts";
import { manufacturerBytes } from "./connector.ts";
import { errorText } from "../../observe/logger.ts";

export interface ScanOptions {
  timeout: string;
  json?: boolean;
  name?: string;
  adapter?: string;
}

export interface ScannedDevice {
  address: string;
  name: string;
  rssi: number | null;
  services: string[];
  manufacturerData: string;
}

async function describe(device: Device): Promise<ScannedDevice> {
  const helper = (device as unknown as { helper?: { prop(name: string): Promise<unknown> } }).helper;
  const services = ((await helper?.prop("UUIDs").catch(() => [])) as string[] | undefined) ?? [];
  const rssi = await device.getRSSI().catch(() => null);
  return {
    address: await device.getAddress(),
    name: await device.getName().catch(() => ""),
    rssi: rssi === null ? null : Number(rssi),
    services,
    manufacturerData: Buffer.from(manufacturerBytes(await device.getManufacturerData().catch(() => undefined)) ?? []).toString("hex"),
  };
}

export async function runBleScan(opts: ScanOptions): Promise<number> {
  const seconds = Number(opts.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    process.stderr.write(chalk.red(`--timeout must be a positive number of seconds, got "${opts.timeout}"\n`));
    return 2;
  }
  let session;
  try {
    session = await openBluez({ adapterName: opts.adapter });
  } catch (e) {
    process.stderr.write(chalk.red(`tb-gw scan ble: ${errorText(e)}\n`));
    return 1;
  }
  const { adapter, adapterName } = session;
  let interrupted = false;
  let wake: () => void = () => {};
  const onSigint = () => {
    interrupted = true;
    wake();
  };
  process.once("SIGINT", onSigint);
  try {
    process.stderr.write(chalk.dim(`scanning on ${adapterName} for ${seconds} s (Ctrl-C stops early)...\n`));
    await adapter.startDiscovery();
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, seconds * 1000);
    });
    await adapter.stopDiscovery().catch(() => {});
    const found: ScannedDevice[] = [];
    for (const addr of await adapter.devices()) {
      try {
        const d = await describe(await adapter.getDevice(addr));
        if (!opts.name || d.name.toLowerCase().includes(opts.name.toLowerCase())) found.push(d);
      } catch {
        // device vanished between listing and reading it
      }
    }
    found.sort((a, b) => (b.rssi ?? -999) - (a.rssi ?? -999));
    if (opts.json) process.stdout.write(JSON.stringify(found, null, 2) + "\n");
    else
      for (const d of found)
        process.stdout.write(`${d.address}  ${String(d.rssi ?? "?").padStart(4)} dBm  ${d.name || "(no name)"}${d.services.length ? `  services: ${d.services.join(", ")}` : ""}\n`);
    process.stderr.write(chalk.dim(`${found.length} device(s)${interrupted ? " (interrupted)" : ""}\n`));
    return found.length > 0 ? 0 : 1;
  } finally {
    process.off("SIGINT", onSigint);
    session.close();
  }
}
