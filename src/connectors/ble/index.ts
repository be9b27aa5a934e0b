// BLE connector descriptor: the schema loads eagerly; node-ble / D-Bus only when a config or scan uses it.

import type { Command } from "commander";
import type { ConnectorDescriptor } from "../../core/connector.ts";
import { BleConfigSchema, type BleConfig } from "./schema.ts";
import { errorText } from "../../observe/logger.ts";

export const descriptor: ConnectorDescriptor<BleConfig> = {
  type: "ble",
  schema: BleConfigSchema,
  title: "Bluetooth Low Energy central through BlueZ: characteristics read or notified, advertisements",
  async create(config, ctx) {
    const { BleConnector } = await import("./connector.ts");
    return new BleConnector(config, ctx);
  },
  /**
   * run --check: each device's converter (`extension`: a built-in name or the user's class), loaded
   * with start()'s own function before BLE is opened; every `compute` expression compiled, as the
   * converter compiles it at the first value.
   */
  async prepare(config, ctx) {
    const { BleDeviceConversion } = await import("./conversion.ts");
    const { compileCompute } = await import("./compute.ts");
    for (const d of config.devices) await BleDeviceConversion.load(d, ctx, () => {});
    for (const d of config.devices)
      for (const key of [...d.telemetry, ...d.attributes]) {
        if (!key.compute) continue;
        try {
          compileCompute(key.compute);
        } catch (e) {
          ctx.log.error(`${d.name}: key "${key.key}": ${errorText(e)}; its values are not sent`);
        }
      }
  },
  registerScan(scan: Command) {
    scan
      .command("ble")
      .description("list advertising BLE devices with RSSI, name and services (needs BlueZ and an adapter)")
      .option("-t, --timeout <seconds>", "how long to listen", "10")
      .option("--name <text>", "only devices whose name contains this text")
      .option("--adapter <name>", "adapter to use, e.g. hci1 (default: the first one)")
      .option("--json", "print JSON for scripts")
      .addHelpText("after", "\nExamples:\n  tb-gw scan ble\n  tb-gw scan ble --timeout 5 --name Thermo --json\n")
      .action(async (opts) => {
        const { runBleScan } = await import("./scan.ts");
        process.exitCode = await runBleScan(opts);
      });
  },
};
