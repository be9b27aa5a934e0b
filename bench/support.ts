// What every whole-gateway benchmark repeats: reading its `--name value` options, a counting
// stand-in for the platform on the platform broker, and starting tb-gw from source or a binary.

import mqtt from "mqtt";
import { dirname, resolve } from "node:path";
import { commandFor } from "../build/targets.ts";
import { BUN, CLI } from "../test/support/gateway.ts";
import { startProcess, type Started } from "../test/support/process.ts";

/** `--name value` from the command line, else `dflt`. */
export function option(name: string, dflt: string): string {
  const args = process.argv;
  const i = args.indexOf(`--${name}`);
  return i >= 2 && args[i + 1] ? args[i + 1]! : dflt;
}

/** The body of one `v1/gateway/telemetry` message: device → its entries (V: what the benchmark's values are). */
export type TelemetryBody<V = Record<string, unknown>> = Record<string, Array<{ ts?: number; values: V }>>;

export interface PlatformCounter {
  client: mqtt.MqttClient;
  /** performance.now() of the last telemetry message (0 before the first). */
  lastAt(): number;
  close(): Promise<void>;
}

/**
 * Connects to the platform broker as the platform would: answers the gateway's session-limits
 * request as ThingsBoard does (so the gateway sends with the window it uses in production) and
 * hands every gateway telemetry message to `onTelemetry`, with Date.now() of its arrival.
 */
export async function countPlatform<V = Record<string, unknown>>(url: string, clientId: string, onTelemetry: (body: TelemetryBody<V>, receivedAt: number) => void): Promise<PlatformCounter> {
  const client = await mqtt.connectAsync(url, { clientId });
  let lastAt = 0;
  client.on("message", (topic, payload) => {
    if (topic.startsWith("v1/devices/me/rpc/request/")) {
      client.publish(`v1/devices/me/rpc/response/${topic.split("/").pop()}`, JSON.stringify({ maxPayloadSize: 65536, maxInflightMessages: 100 }));
      return;
    }
    if (topic !== "v1/gateway/telemetry") return;
    onTelemetry(JSON.parse(payload.toString()) as TelemetryBody<V>, Date.now());
    lastAt = performance.now();
  });
  await client.subscribeAsync({ "v1/gateway/telemetry": { qos: 1 }, "v1/devices/me/rpc/request/+": { qos: 1 } });
  return { client, lastAt: () => lastAt, close: () => client.endAsync(true) };
}

export interface BenchGatewayOptions {
  /** Path of a compiled tb-gw (run through an emulator when it is another architecture's); from source when empty. */
  binary?: string;
  env?: Record<string, string>;
  /** Extra arguments for bun when run from source (e.g. --cpu-prof-md). */
  bunArgs?: string[];
  timeoutMs?: number;
}

/** `tb-gw run --config configPath`, resolved once the gateway says it started. A binary runs in the config's folder, as installed. */
export function startBenchGateway(configPath: string, opts: BenchGatewayOptions = {}): Promise<Started> {
  const run = ["run", "--config", configPath];
  const common = { ready: /gateway started/, timeoutMs: opts.timeoutMs ?? 60_000, env: opts.env ?? {} };
  // absolute: the binary runs in the config's folder, where a relative path would not resolve
  if (opts.binary) return startProcess(...commandFor(resolve(opts.binary), run), { ...common, cwd: dirname(configPath) });
  return startProcess(BUN, [...(opts.bunArgs ?? []), CLI, ...run], common);
}
