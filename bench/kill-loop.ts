// The gateway killed with SIGKILL at seeded random moments under device load and restarted each
// time, sqlite (default) or file storage (issue #17 item 2): prints messages sent, lost (must be 0), duplicates per
// kill and order. The suite runs 20 kills with seed 17 (test/gateway/kill-loop.test.ts).
// Usage: bun bench/kill-loop.ts [--kills 20] [--seed 17] [--rate 500] [--storage sqlite|file] [--source]
// The compiled executable is the default (built once by build.ts); --source runs cli/main.ts.

import { runKillLoop } from "../test/support/kill-loop-scenario.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const kills = Number(opt("kills", "20"));
const seed = Number(opt("seed", "17"));
const rate = Number(opt("rate", "500"));
const from = args.includes("--source") ? "source" : "binary";
const storage = opt("storage", "sqlite") as "sqlite" | "file";
const f = await runKillLoop({ kills, seed, rate, from, storage, log: (l) => console.error(l) });
console.log(
  [
    `${kills} kills (seed ${seed}, ${from}) at ${rate} messages/s (${rate * 5} datapoints/s), ${storage} storage:`,
    `  sent ${f.sent}, lost ${f.lost}, duplicates ${f.duplicates} (${(f.duplicates / kills).toFixed(1)} per kill), out of order ${f.outOfOrder}`,
    `  runs between kills ${Math.min(...f.runMs)}-${Math.max(...f.runMs)} ms; all delivered ${f.settleMs} ms after the last start`,
    f.problems.length ? `  problems:\n${f.problems.join("\n")}` : "",
    f.lost ? f.missing : "",
  ]
    .filter(Boolean)
    .join("\n"),
);
process.exit(f.lost ? 1 : 0);
