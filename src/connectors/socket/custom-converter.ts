// A custom Socket uplink converter (`devices[].converter` naming a class other than the built-in
// BytesSocketUplinkConverter), from `<config folder>/extensions/socket/` through the one extensions
// loader. As upstream: built with `({deviceName, deviceType}, logger)`, called as
// `convert(deviceConfig, data)` with the frame's bytes.

import { ConverterConfigError, extensionsDir, findConverterClass, normalizeConverted } from "../../common/converters/custom.ts";
import type { ConvertedData } from "../../core/model.ts";
import type { Logger } from "../../observe/logger.ts";
import type { SocketDevice } from "./schema.ts";

type ConverterClass = new (config: { deviceName: string; deviceType: string }, log: Logger) => { convert(config: unknown, data: Buffer): unknown };

export interface CustomSocketConverter {
  /** The frame's data, or a reason text when the converter gave none. */
  convert(frame: Buffer): ConvertedData[] | string | Promise<ConvertedData[] | string>;
}

export async function loadSocketConverter(name: string, device: SocketDevice, configDir: string, log: Logger): Promise<CustomSocketConverter> {
  const Cls = await findConverterClass<ConverterClass>(name, extensionsDir(configDir, "socket"));
  const instance = new Cls({ deviceName: device.deviceName, deviceType: device.deviceType }, log.child(name));
  if (typeof instance.convert !== "function") throw new ConverterConfigError(`custom converter ${name} has no convert method`);
  return {
    convert(frame) {
      const r = instance.convert(device, frame);
      return r instanceof Promise ? r.then(normalizeConverted) : normalizeConverted(r);
    },
  };
}
