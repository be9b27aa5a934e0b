// Soak (issue #17): the gateway under steady device load for --minutes (default 60) at --rate
// device messages/s (default 2,000 = 10,000 datapoints/s) with sqlite storage and a platform outage
// of --outage-secs (60) every --outage-every minutes (10). RSS and CPU are sampled every 10 s;
// prints the samples as CSV, the RSS growth after warm-up (the first 5 minutes), loss and
// duplicates, and writes an SVG plot (--plot FILE, default docs/soak.svg).
// Usage: bun bench/soak.ts [--minutes 60] [--rate 2000] [--outage-every 10] [--outage-secs 60] [--binary] [--plot FILE]

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { runSoak, type SoakSample } from "../test/support/soak-scenario.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const minutes = Number(opt("minutes", "60"));
const rate = Number(opt("rate", "2000"));
const every = Number(opt("outage-every", "10"));
const outageSecs = Number(opt("outage-secs", "60"));
const plot = opt("plot", "docs/soak.svg");
const from = args.includes("--binary") ? "binary" : "source";
const warmUpSecs = Math.min(300, (minutes * 60) / 4);

const f = await runSoak({ minutes, rate, outageEveryMin: every, outageSecs, warmUpSecs, from, log: (l) => console.error(l) });
console.log("t_s,rss_mb,cpu_percent,platform_up");
for (const s of f.samples) console.log(`${s.t},${s.rssMb.toFixed(1)},${s.cpuPercent.toFixed(1)},${s.platformUp ? 1 : 0}`);
const title = `${minutes} min at ${rate * 5} datapoints/s, sqlite, ${from}, ${outageSecs} s outage every ${every} min`;
console.log(
  [
    title + ":",
    `  sent ${f.sent} messages (${f.sent * 5} datapoints), lost ${f.lost}, duplicates ${f.duplicates}, out of order ${f.outOfOrder}`,
    `  steady RSS after ${warmUpSecs} s warm-up: ${f.steadyFirstMb.toFixed(1)} → ${f.steadyLastMb.toFixed(1)} MB (${f.rssGrowthPercent.toFixed(1)} %); peak ${Math.max(...f.samples.map((s) => s.rssMb)).toFixed(0)} MB`,
    `  gateway CPU: mean ${f.meanCpuPercent.toFixed(0)} % of one core`,
  ].join("\n"),
);
mkdirSync(dirname(plot), { recursive: true });
writeFileSync(plot, svg(f.samples, title));
console.log(`plot: ${plot}`);
process.exit(f.lost ? 1 : 0);

/** RSS (MB, left axis) and CPU (% of a core, right axis) over time; outages shaded. */
function svg(samples: SoakSample[], caption: string): string {
  const W = 900, H = 360, L = 60, R = 60, T = 40, B = 40;
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const rssMax = Math.ceil(Math.max(50, ...samples.map((s) => s.rssMb)) / 50) * 50;
  const cpuMax = Math.ceil(Math.max(20, ...samples.map((s) => s.cpuPercent)) / 20) * 20;
  const x = (t: number) => L + (t / tMax) * (W - L - R);
  const yR = (v: number) => H - B - (v / rssMax) * (H - T - B);
  const yC = (v: number) => H - B - (v / cpuMax) * (H - T - B);
  const line = (pick: (s: SoakSample) => number, y: (v: number) => number) => samples.map((s, i) => `${i ? "L" : "M"}${x(s.t).toFixed(1)},${y(pick(s)).toFixed(1)}`).join(" ");
  const shades: string[] = [];
  for (let i = 0; i < samples.length; i++) {
    if (samples[i]!.platformUp) continue;
    const from = i > 0 ? samples[i - 1]!.t : 0;
    shades.push(`<rect x="${x(from).toFixed(1)}" y="${T}" width="${(x(samples[i]!.t) - x(from)).toFixed(1)}" height="${H - T - B}" fill="#f3d9d9"/>`);
  }
  const ticks: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const y = H - B - (i / 5) * (H - T - B);
    ticks.push(`<text x="${L - 6}" y="${y + 4}" text-anchor="end">${((rssMax * i) / 5).toFixed(0)}</text><text x="${W - R + 6}" y="${y + 4}">${((cpuMax * i) / 5).toFixed(0)}</text><line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    const t = (tMax * i) / 5;
    ticks.push(`<text x="${x(t)}" y="${H - B + 16}" text-anchor="middle">${(t / 60).toFixed(0)} min</text>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${caption}</text>
${shades.join("\n")}
${ticks.join("\n")}
<path d="${line((s) => s.rssMb, yR)}" fill="none" stroke="#1f5fbf" stroke-width="2"/>
<path d="${line((s) => s.cpuPercent, yC)}" fill="none" stroke="#d08000" stroke-width="1"/>
<text x="${L}" y="${T - 6}" fill="#1f5fbf">RSS (MB)</text>
<text x="${W - R}" y="${T - 6}" text-anchor="end" fill="#d08000">CPU (% of a core)</text>
<text x="${L + 100}" y="${T - 6}" fill="#b05050">shaded: platform down</text>
</svg>
`;
}
