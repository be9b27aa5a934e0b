// The demo's simulated devices: two sensors publishing JSON to the embedded broker, the way a
// real device would publish to its own MQTT broker. The gateway's MQTT connector picks them up.

import { connectOnce } from "../common/mqtt/connection.ts";

export interface SimulatedDevices {
  stop(): Promise<void>;
}

export async function startSimulatedDevices(url: string, periodMs = 1000): Promise<SimulatedDevices> {
  const u = new URL(url);
  const client = await connectOnce({ host: u.hostname, port: Number(u.port || 1883), clientId: `tb-gw-demo-device-${process.pid}` });
  let t = 0;
  const timer = setInterval(() => {
    t++;
    const temp = 21 + 3 * Math.sin(t / 20) + Math.random() * 0.2;
    client.publish("demo/sensors/thermometer-1", JSON.stringify({ serialNumber: "TH-0001", model: "T1000", temperature: Math.round(temp * 100) / 100, humidity: Math.round(45 + 5 * Math.cos(t / 30)) }), 1, false);
    client.publish("demo/sensors/power-meter-1", JSON.stringify({ serialNumber: "PM-0001", model: "P42", power: Math.round(1200 + 300 * Math.sin(t / 7)), voltage: 230 + Math.round(Math.random() * 4) }), 1, false);
  }, periodMs);
  return {
    async stop() {
      clearInterval(timer);
      await client.end();
    },
  };
}

/** The MQTT connector config the demo runs (upstream mqtt.json format). */
export function demoConnectorConfig(host: string, port: number): Record<string, unknown> {
  return {
    broker: { name: "Demo broker", host, port, clientId: `tb-gw-demo-connector-${process.pid}`, version: 4, security: { type: "anonymous" } },
    mapping: [
      {
        topicFilter: "demo/sensors/+",
        subscriptionQos: 1,
        converter: {
          type: "json",
          deviceInfo: {
            deviceNameExpressionSource: "topic",
            deviceNameExpression: "demo/sensors/(.*)",
            deviceProfileExpressionSource: "constant",
            deviceProfileExpression: "demo-sensor",
          },
          attributes: [
            { type: "string", key: "serialNumber", value: "${serialNumber}" },
            { type: "string", key: "model", value: "${model}" },
          ],
          timeseries: [
            { type: "double", key: "temperature", value: "${temperature}" },
            { type: "integer", key: "humidity", value: "${humidity}" },
            { type: "integer", key: "power", value: "${power}" },
            { type: "integer", key: "voltage", value: "${voltage}" },
          ],
        },
      },
    ],
  };
}
