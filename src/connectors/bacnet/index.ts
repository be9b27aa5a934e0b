// BACnet/IP connector descriptor: schema and lazy factories only, so the BACnet stack loads only
// when a config (or `tb-gw scan bacnet`) uses it.

import type { Command } from "commander";
import type { ConnectorDescriptor, ConnectorWarning, PollTarget } from "../../core/connector.ts";
import { BacnetConfigSchema, type BacnetConfig } from "./schema.ts";
import { isObj, list, text, type Obj } from "../../core/raw-config.ts";
import { expandObjectIds, objectTypeNumber, propertyNumber } from "./names.ts";

/** BACnet: one target per device address (or host:port) and device id. */
function pollTargets(raw: Obj): PollTarget[] {
  return list(raw.devices).flatMap((d, i) => {
    if (!isObj(d)) return [];
    const addr = text(d.address) || `${text(d.host, "*")}:${text(d.port, "47808")}`;
    return [{ path: ["devices", i], target: `bacnet ${addr} device ${text(d.deviceId, "*")}` }];
  });
}

/**
 * Item names the BACnet stack does not know: the schema takes any text, the connector skips the
 * item (or property) with an error at run time; said here at its place. (Found by the config fuzz
 * through `run --check`.)
 */
function lint(raw: Obj): ConnectorWarning[] {
  const out: ConnectorWarning[] = [];
  list(raw.devices).forEach((d, i) => {
    if (!isObj(d)) return;
    for (const section of ["attributes", "timeseries", "attributeUpdates", "serverSideRpc"]) {
      const items = d[section];
      if (!Array.isArray(items)) continue; // "*" = every object
      items.forEach((item, j) => {
        if (!isObj(item)) return;
        const at = ["devices", i, section, j];
        if (typeof item.objectType === "string" && objectTypeNumber(item.objectType) === undefined) out.push({ path: [...at, "objectType"], message: `unknown objectType "${item.objectType}" (camelCase names such as analogInput, binaryValue, device): this item is skipped` });
        const props = Array.isArray(item.propertyId) ? item.propertyId : item.propertyId === undefined ? [] : [item.propertyId];
        for (const p of props) if (typeof p === "string" && p !== "*" && propertyNumber(p) === undefined) out.push({ path: [...at, "propertyId"], message: `unknown propertyId "${p}" (camelCase names such as presentValue, statusFlags): this property is skipped` });
        if (item.objectId !== undefined && objectTypeNumber(String(item.objectType)) !== objectTypeNumber("device") && expandObjectIds(item.objectId) === undefined) out.push({ path: [...at, "objectId"], message: `objectId ${JSON.stringify(item.objectId)} is not a number, "*", "a-b" range (at most 100,000) or a list of them: this item is skipped` });
      });
    }
  });
  return out;
}

export const descriptor: ConnectorDescriptor<BacnetConfig> = {
  type: "bacnet",
  schema: BacnetConfigSchema as never,
  title: "BACnet/IP: Who-Is discovery, ReadPropertyMultiple polling, COV, WriteProperty with priority",
  pollTargets,
  lint,
  async create(config, ctx) {
    const { BacnetConnector } = await import("./connector.ts");
    return new BacnetConnector(config, ctx);
  },
  /** run --check: the local endpoint and device, each device's name and object items, with the functions start() and the first I-Am use; a custom uplinkConverter class looked up in extensions/bacnet. */
  async prepare(config, ctx) {
    const { localEndpoint } = await import("./connector.ts");
    const { localDeviceOf } = await import("./local-device.ts");
    const { deviceIdentity, resolveItems } = await import("./device.ts");
    const { customConverterName } = await import("./custom.ts");
    const { checkCustomUplinkClass } = await import("../../common/converters/custom-uplink.ts");
    localEndpoint(config.application);
    localDeviceOf(config.application, ctx.log);
    for (const [i, d] of config.devices.entries()) {
      const id = typeof d.deviceId === "number" ? d.deviceId : 0;
      deviceIdentity(d, { objectId: id, address: d.address ?? "", vendorId: 0 });
      resolveItems(d, id, [], ctx.log);
      const extension = customConverterName(d);
      if (extension) await checkCustomUplinkClass(extension, "bacnet", ctx.configDir, ctx.log, `devices[${i}] uplinkConverter`);
    }
  },
  registerScan(scan: Command) {
    scan
      .command("bacnet")
      .description("find BACnet/IP devices with Who-Is and list their objects (reads only)")
      .option("--interface <ip>", "local IPv4 address to send from", "0.0.0.0")
      .option("--port <port>", "local UDP port; devices broadcast I-Am to 47808, 0 = any free port", "47808")
      .option("--target <host[:port]>", "unicast Who-Is to this device instead of broadcasting")
      .option("--broadcast <ip[:port]>", "broadcast address for Who-Is (default: the subnet broadcast of --interface from its netmask, e.g. 192.168.1.255 for 192.168.1.20/24; 255.255.255.255 without --interface); without a port it goes to --port")
      .option("--range <low-high>", "device instance range, e.g. 1000-1999")
      .option("--wait <seconds>", "how long to collect I-Am answers", "3")
      .option("--no-objects", "do not read each device's object list")
      .option("--json", "print JSON on stdout (for scripts)")
      .option("--emit-config", "print a bacnet.json connector config for the devices found")
      .addHelpText("after", "\nExamples:\n  tb-gw scan bacnet --interface 192.168.1.20 --range 1-5000\n  tb-gw scan bacnet --target 127.0.0.2:47808 --json\n  tb-gw scan bacnet --target 10.0.0.7 --emit-config > bacnet.json\n")
      .action(async (opts) => {
        const { runScan } = await import("./scan.ts");
        process.exitCode = await runScan(opts);
      });
  },
};
