// The peers of an HTTP connector's end-to-end test: Mosquitto and the platform harness playing
// ThingsBoard, and the Python device. The test starts the gateway into `gw`; stop() ends them all,
// the gateway first (its stop also checks its log for empty error texts).

import { startMosquitto, type Broker } from "../../../../test/support/mosquitto.ts";
import { startPlatformHarness, type PlatformHarness } from "../../../../test/support/platform.ts";
import type { Started } from "../../../../test/support/process.ts";
import { startHttpDevice, type DeviceRoutes, type HttpDevice } from "./device.testutil.ts";

export interface HttpWorld {
  broker: Broker;
  harness: PlatformHarness;
  device: HttpDevice;
  gw?: Started;
  stop(): Promise<void>;
}

export async function startHttpWorld(routes: DeviceRoutes): Promise<HttpWorld> {
  const [broker, device] = await Promise.all([startMosquitto(), startHttpDevice(routes)]);
  const harness = await startPlatformHarness(broker.url).catch(async (e) => {
    await Promise.all([broker.dispose(), device.stop()]);
    throw e;
  });
  const world: HttpWorld = {
    broker,
    harness,
    device,
    async stop() {
      try {
        await world.gw?.stop();
        await harness.close().catch(() => undefined);
      } finally {
        await Promise.all([broker.dispose(), device.stop()]);
      }
    },
  };
  return world;
}
