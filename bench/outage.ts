// Long platform outage under device load (issue #17): the platform broker stopped for --minutes
// (default 10) while 10 devices publish --rate messages/s (5 datapoints each) through the MQTT
// connector into sqlite or file storage. Prints the time from the platform's return to the first
// telemetry, the backlog's drain rate against the live rate, the gateway's RSS (peak, at the start
// and end of the outage), loss, duplicates and order. The suite's 60 s variant is
// test/gateway/long-outage.test.ts.
// Usage: bun bench/outage.ts [--minutes 10] [--storage sqlite,file] [--rate 500] [--binary]
// --binary runs the compiled executable (built once by build.ts) instead of the source.

import { DATAPOINTS_PER_MESSAGE, runOutage } from "../test/support/outage-scenario.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const minutes = Number(opt("minutes", "10"));
const rate = Number(opt("rate", "500"));
const kinds = opt("storage", "sqlite,file").split(",") as Array<"sqlite" | "file">;
const from = args.includes("--binary") ? "binary" : "source";

for (const storage of kinds) {
  const t0 = Date.now();
  const f = await runOutage({ storage, outageSecs: minutes * 60, liveSecs: 10, afterSecs: 20, rate, from, log: (l) => console.error(`[${storage} ${((Date.now() - t0) / 1000).toFixed(0)} s] ${l}`) });
  console.log(
    [
      `${storage} storage, ${from}, outage ${minutes} min at ${rate} messages/s (${rate * DATAPOINTS_PER_MESSAGE} datapoints/s):`,
      `  sent ${f.sent} messages (${f.sent * DATAPOINTS_PER_MESSAGE} datapoints), lost ${f.lost}, duplicates ${f.duplicates}, out of order ${f.outOfOrder}`,
      `  platform back → first telemetry: ${(f.resumeMs / 1000).toFixed(1)} s; reconnect delays logged during the outage: max ${Math.max(...f.retryDelays).toFixed(1)} s (${f.retryDelays.length} lines; one a minute once at the cap)`,
      `  backlog ${f.backlog} messages drained at ${f.drainRate.toFixed(0)} messages/s = ${(f.drainRate / f.liveRate).toFixed(1)}× the live rate; all caught up ${(f.caughtUpMs / 1000).toFixed(1)} s after the platform returned`,
      `  gateway RSS: ${f.rssAtOutageStartMb.toFixed(0)} MB at the outage's start, ${f.rssAtOutageEndMb.toFixed(0)} MB at its end, peak ${f.peakRssMb.toFixed(0)} MB`,
      f.lost ? f.missing : "",
    ]
      .filter(Boolean)
      .join("\n"),
  );
}
process.exit(0);
