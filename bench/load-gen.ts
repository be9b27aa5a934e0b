// Load generator for bench/uplink.ts, run as its own process so it does not share an event loop
// with the measuring side: publishes `count` QoS 1 messages round-robin over `devices` devices,
// each with `keys` integer keys plus `seq`, keeping at most `window` publishes unacknowledged.
// Usage: bun bench/load-gen.ts <url> <devices> <keys> <count> [ratePerSec|0] [window] [stamp]
// With `stamp`, each message also carries `t`, the wall-clock ms at publish (latency measurement).

import mqtt from "mqtt";

const [url, devicesArg, keysArg, countArg, rateArg = "0", windowArg = "1000", stampArg = ""] = process.argv.slice(2);
if (!url || !devicesArg || !keysArg || !countArg) {
  console.error("usage: bun bench/load-gen.ts <url> <devices> <keys> <count> [ratePerSec|0] [window]");
  process.exit(2);
}
const devices = Number(devicesArg);
const keys = Number(keysArg);
const count = Number(countArg);
const rate = Number(rateArg);
const window = Number(windowArg);
const stamp = stampArg === "stamp";

const client = await mqtt.connectAsync(url, { clientId: `bench-load-${process.pid}` });
const started = performance.now();
let sent = 0;
let acked = 0;
const keyNames = Array.from({ length: keys }, (_, i) => `k${i}`);

// One pacing timer at most: every acknowledgement calls pump(), and a pump that scheduled its own
// timer each time it was ahead of the rate left one more 1 ms timer chain per acknowledgement (at
// 200 messages/s the generator took a whole core after a minute, which the gateway's figures on
// this 2-core machine then shared).
let paceTimer: ReturnType<typeof setTimeout> | undefined;
await new Promise<void>((resolve) => {
  const pump = () => {
    while (sent < count && sent - acked < window) {
      if (rate > 0 && sent > ((performance.now() - started) / 1000) * rate) {
        if (paceTimer === undefined) {
          const dueInMs = (sent / rate) * 1000 - (performance.now() - started);
          paceTimer = setTimeout(
            () => {
              paceTimer = undefined;
              pump();
            },
            Math.max(1, Math.ceil(dueInMs)),
          );
        }
        return;
      }
      const seq = Math.floor(sent / devices) + 1;
      const d = sent % devices;
      let body = stamp ? `{"seq":${seq},"t":${Date.now()}` : `{"seq":${seq}`;
      for (const k of keyNames) body += `,"${k}":${(seq * 7 + d) % 1000}`;
      body += "}";
      client.publish(`bench/dev-${d}`, body, { qos: 1 }, () => {
        acked++;
        if (acked === count) resolve();
        else if (sent - acked < window / 2) pump();
      });
      sent++;
    }
  };
  pump();
});
const secs = (performance.now() - started) / 1000;
const cpu = process.cpuUsage();
process.stdout.write(JSON.stringify({ sent, secs, rate: sent / secs, cpuSecs: (cpu.user + cpu.system) / 1e6 }) + "\n");
await client.endAsync();
