// Shape and printing of a bench result.

export interface BenchResult {
  storage: string;
  devices: number;
  keys: number;
  rate: number;
  durationSeconds: number;
  platform: string;
  intake: { messages: number; datapoints: number; datapointsPerSecond: number };
  /** Published to the platform (MQTT messages and the datapoints in them). */
  delivered: { messages: number; datapoints: number; messagesPerSecond: number; datapointsPerSecond: number };
  /** Acknowledged by the platform (PUBACK). */
  acked: { records: number; datapoints: number; datapointsPerSecond: number; recordsPerSecond: number };
  /** Counted by a separate subscriber on the platform side. */
  platformReceived: { datapoints: number; messages: number };
  dropped: number;
  latencyMs: { p50: number; p95: number; p99: number; samples: number };
  peakRssMB: number;
  /** RAM the JS heap was sized for (BUN_JSC_forceRAMSize); 0 = this machine's. */
  heapRamMb: number;
  /** Of one core, over the run. */
  cpuPercent: number;
  /** The platform side's own process (embedded endpoint and/or the counting subscriber). */
  platformProcess: { peakRssMB: number; cpuPercent: number; embedded: boolean };
  storageBytesPerDatapoint: { record: number; diskAtPeak?: number };
}

const n = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: 1 });

export function formatTable(r: BenchResult): string {
  const rows: Array<[string, string]> = [
    ["setup", `${r.devices} devices × ${r.keys} keys, storage ${r.storage}, platform ${r.platform}, ${r.rate ? `${n(r.rate)} dp/s offered` : "as fast as possible"}, ${r.durationSeconds} s`],
    ["intake", `${n(r.intake.datapoints)} datapoints in ${n(r.intake.messages)} device messages (${n(r.intake.datapointsPerSecond)} dp/s)`],
    ["delivered", `${n(r.delivered.datapointsPerSecond)} datapoints/s, ${n(r.delivered.messagesPerSecond)} messages/s (${n(r.delivered.datapoints)} dp in ${n(r.delivered.messages)} publishes)`],
    ["acked", `${n(r.acked.datapointsPerSecond)} datapoints/s, ${n(r.acked.recordsPerSecond)} records/s (${n(r.acked.datapoints)} dp)`],
    ["platform counted", `${n(r.platformReceived.datapoints)} datapoints in ${n(r.platformReceived.messages)} messages`],
    ["dropped", n(r.dropped)],
    ["latency intake→PUBACK", `p50 ${n(r.latencyMs.p50)} ms, p95 ${n(r.latencyMs.p95)} ms, p99 ${n(r.latencyMs.p99)} ms (${n(r.latencyMs.samples)} samples)`],
    ["peak RSS", `${n(r.peakRssMB)} MB (gateway engine process; JS heap sized for ${r.heapRamMb ? `${n(r.heapRamMb)} MB RAM` : "this machine's RAM"})`],
    ["CPU", `${n(r.cpuPercent)} % of one core (gateway engine process)`],
    ["platform side", `${r.platformProcess.embedded ? "embedded endpoint + counter" : "counter"} in its own process: peak RSS ${n(r.platformProcess.peakRssMB)} MB, CPU ${n(r.platformProcess.cpuPercent)} %`],
    ["storage bytes/datapoint", `${n(r.storageBytesPerDatapoint.record)} (record JSON)${r.storageBytesPerDatapoint.diskAtPeak !== undefined ? `, ${n(r.storageBytesPerDatapoint.diskAtPeak)} (on disk at peak depth)` : ""}`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n");
}
