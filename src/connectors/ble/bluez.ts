// BlueZ over the system D-Bus (node-ble on dbus-next: pure JS, no native addon). This file owns the
// "is BLE usable here?" question so every BLE entry point fails the same clear way without an adapter.

import { existsSync } from "node:fs";
import type NodeBle from "node-ble";
import { errorText } from "../../observe/logger.ts";

export type Adapter = NodeBle.Adapter;
export type Device = NodeBle.Device;
export type GattCharacteristic = NodeBle.GattCharacteristic;

/** BLE cannot work on this machine: no system D-Bus, no bluetoothd, or no adapter. */
export class BleUnavailableError extends Error {
  override name = "BleUnavailableError";
}

export interface BleSession {
  adapter: Adapter;
  adapterName: string;
  close(): void;
}

function systemBusPath(): string | undefined {
  const addr = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  if (!addr) return "/var/run/dbus/system_bus_socket";
  const m = /unix:path=([^,;]+)/.exec(addr);
  return m?.[1];
}

/**
 * Open BlueZ's default adapter (or `adapterName`, e.g. "hci1"). Rejects with BleUnavailableError
 * naming what is missing and how to fix it; never hangs longer than `timeoutMs`.
 */
export async function openBluez(opts: { adapterName?: string; timeoutMs?: number } = {}): Promise<BleSession> {
  const busPath = systemBusPath();
  if (busPath && !existsSync(busPath))
    throw new BleUnavailableError(
      `no Bluetooth: the system D-Bus socket ${busPath} does not exist, so BlueZ (bluetoothd) cannot be reached. ` +
        "Install and start dbus and bluez (e.g. `apt install bluez && systemctl start bluetooth`); in a container, mount /var/run/dbus.",
    );
  const { createBluetooth } = (await import("node-ble")).default;
  const { bluetooth, destroy } = createBluetooth();
  const bus = (bluetooth as unknown as { dbus: NodeJS.EventEmitter }).dbus;
  let failure: ((e: Error) => void) | undefined;
  // dbus-next reports connection problems as "error" events; without a listener they crash the process.
  bus.on("error", (e: Error) => failure?.(e));
  const close = () => {
    try {
      destroy();
    } catch {
      // already disconnected
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const adapters = await Promise.race([
      bluetooth.adapters(),
      new Promise<never>((_, rej) => {
        failure = rej;
        timer = setTimeout(() => rej(new Error(`no answer from the system D-Bus within ${opts.timeoutMs ?? 5000} ms`)), opts.timeoutMs ?? 5000);
      }),
    ]);
    if (adapters.length === 0)
      throw new BleUnavailableError("no Bluetooth adapter: bluetoothd is running but reports no controller (check `bluetoothctl list`, rfkill, or the USB dongle)");
    const name = opts.adapterName ?? adapters[0]!;
    if (!adapters.includes(name)) throw new BleUnavailableError(`no Bluetooth adapter "${name}"; available: ${adapters.join(", ")}`);
    const adapter = await bluetooth.getAdapter(name);
    return { adapter, adapterName: name, close };
  } catch (e) {
    close();
    if (e instanceof BleUnavailableError) throw e;
    const err = e as Error & { type?: string };
    const text = `${err.type ?? ""} ${err.message}`;
    if (/ServiceUnknown|org\.bluez was not provided|not activatable/i.test(text))
      throw new BleUnavailableError("no Bluetooth: bluetoothd (BlueZ) is not running on the system D-Bus; start it (`systemctl start bluetooth`) or install bluez");
    if (/ENOENT|ECONNREFUSED|EACCES/.test(text))
      throw new BleUnavailableError(`no Bluetooth: cannot connect to the system D-Bus (${errorText(err)}); is dbus running and readable by this user?`);
    throw new BleUnavailableError(`no Bluetooth: ${errorText(err)}`);
  } finally {
    clearTimeout(timer);
    failure = undefined;
  }
}

/** BlueZ wants 128-bit lower-case UUIDs; configs may use the 16/32-bit short form. */
export function fullUuid(uuid: string): string {
  const u = uuid.toLowerCase();
  if (/^[0-9a-f]{4}$/.test(u)) return `0000${u}-0000-1000-8000-00805f9b34fb`;
  if (/^[0-9a-f]{8}$/.test(u)) return `${u}-0000-1000-8000-00805f9b34fb`;
  return u;
}
