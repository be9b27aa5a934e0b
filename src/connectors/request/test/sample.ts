// Upstream's request.json for the tests, adapted only in host and port, the device routes that
// answer its three mappings, and the config folder's extensions/request/ holding the JS converter
// its get_info mapping names.

import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DeviceRoutes } from "../../../common/http/test/device.testutil.ts";
import { SAMPLES } from "../../../../test/support/paths.ts";

const SAMPLE = join(SAMPLES, "request.json");

export function adaptedRequestSample(devicePort: number): Record<string, any> {
  return JSON.parse(readFileSync(SAMPLE, "utf8").replaceAll("127.0.0.1:5000", `127.0.0.1:${devicePort}`));
}

export function withRequestExtension(folder: string): string {
  mkdirSync(join(folder, "extensions/request"), { recursive: true });
  copyFileSync(join(import.meta.dir, "extension.ts"), join(folder, "extensions/request/custom_request_uplink_converter.ts"));
  return folder;
}

const HIST = "/hist/values/ActiveEnergy/SUM13/3600";

/** A GridVis `hist/values` answer with one aggregated value (`avg` in Wh, as the sample's function expects). */
export function gridVisHistory(avgWh: number | string): Record<string, unknown> {
  return { values: [{ avg: avgWh, min: avgWh, max: avgWh, startTime: 1700000000000000000, endTime: 1700003600000000000 }], valueType: { value: "ActiveEnergy", type: "SUM13" } };
}

/** Totaliser 1000 (float from 4 bytes), Flow 2.5 (250 × 0.01), Temperature 21.5, Pressure -1, status byte 0b0101_0011. */
export const INFO_BYTES = "000003e800fa000008660000ff9c0053";

export const sampleRoutes: DeviceRoutes = {
  "/getdata": { body: { serial: "SN-0042", Developer: "Tester" }, auth: "user:password" },
  "/get_info": { body: `@hex:${INFO_BYTES}`, auth: "user:password" },
  "/devices": {
    body: [
      { id: 1, type: "meter", serialNr: "A-1", name: "Main", description: "main feed" },
      { id: 2, type: "meter", serialNr: "A-2", name: "Aux", description: "aux feed" },
    ],
    auth: "user:password",
  },
  // GridVis history answers (Wh); the sample's processingFunction turns values[0].avg into kWh
  [`/devices/1${HIST}`]: { body: gridVisHistory(12500), auth: "user:password" },
  [`/devices/2${HIST}`]: { body: gridVisHistory(7250), auth: "user:password" },
  "/sensor/SD8500/request/echo/7": { body: { temp: 21.5 } },
  "/sensor/SD8500/request/no-reply/8": { body: { accepted: true } },
};
