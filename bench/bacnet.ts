// BACnet polling throughput: one peer device (test-peer.ts, separate process) with N analogValue
// objects, polled by the real connector as fast as it allows (pollPeriod 1 ms). Reports
// properties/s, gateway CPU and RSS, and the peer's CPU time.
// Usage: bun bench/bacnet.ts [objects=200] [seconds=10] [rpm=1|0]

import { runInProcess } from "./proc.ts";
import { recordingContext } from "../test/support/context.ts";
import { freeUdpPort } from "../test/support/ports.ts";
import { setStderrLogging } from "../src/observe/logger.ts";
import { BacnetConnector } from "../src/connectors/bacnet/connector.ts";
import { startPeer } from "../src/connectors/bacnet/peer-process.ts";
import { BacnetConfigSchema } from "../src/connectors/bacnet/schema.ts";

const objects = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 10);
const rpm = (process.argv[4] ?? "1") !== "0";

setStderrLogging(false);
const peer = await startPeer(9000, objects);
const ctx = recordingContext({ type: "bacnet" });
let props = 0;
let polls = 0;
ctx.sendData = async (data) => {
  for (const d of Array.isArray(data) ? data : [data]) {
    polls++;
    for (const e of d.telemetry ?? []) props += Object.keys(e.values).length;
  }
  return "SUCCESS";
};
const config = BacnetConfigSchema.parse({
  application: { host: "127.0.0.1", port: await freeUdpPort("127.0.0.1"), objectIdentifier: 599 },
  devices: [
    {
      deviceInfo: { deviceNameExpression: "bench", deviceNameExpressionSource: "constant" },
      host: "127.0.0.2",
      port: peer.port,
      pollPeriod: 1,
      timeseries: [{ key: "v${objectName}", objectType: "analogValue", objectId: `100-${99 + objects}`, propertyId: "presentValue" }],
    },
  ],
});
// Without RPM every property is one ReadProperty round trip.
const connector = new BacnetConnector(config, ctx, { singleReads: !rpm });
try {
  const { elapsed, cpuPercent, peakRssMb } = await runInProcess(seconds, () => connector.start(), () => connector.stop());
  console.log(
    JSON.stringify({
      objects,
      rpm,
      seconds: Math.round(elapsed * 10) / 10,
      polls,
      values: props,
      valuesPerSecond: Math.round(props / elapsed),
      // Each value needs presentValue plus objectName (its key is "v${objectName}").
      propertiesReadPerSecond: Math.round((2 * props) / elapsed),
      gatewayCpuPercent: Math.round(cpuPercent),
      gatewayPeakRssMiB: Math.round(peakRssMb),
    }),
  );
} finally {
  await peer.stop();
}
