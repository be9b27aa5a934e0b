// Cost of a Request processingFunction per sub-request answer: the upstream sample's one-line
// function and a multi-line one with if/else and item assignment, called on a GridVis-shaped answer.
// Prints compile time and calls/s (one core). Usage: bun bench/python-function.ts [calls=200000]

import { compileFunction } from "../src/common/expressions/python/index.ts";

const calls = Number(process.argv[2] ?? 200_000);
const opts = { name: "process_data", params: ["data", "key"], returns: "dict" } as const;
const functions = {
  "upstream one-liner": 'def process_data(data, key): return {key: float(data["values"][0]["avg"])/1000.0}',
  "multi-line if/else": [
    "def process_data(data, key):",
    '    v = data["values"][0]',
    '    r = {"unit": "kWh"}',
    '    if v["avg"] is None:',
    "        return r",
    '    elif v["avg"] < 0:',
    "        r[key] = 0.0",
    "    else:",
    '        r[key] = round(float(v["avg"]) / 1000.0, 3)',
    "    return r",
  ].join("\n"),
};
const answer = { values: [{ avg: 12345, min: 12000, max: 12800, startTime: 1700000000000000000, endTime: 1700003600000000000 }], valueType: { value: "ActiveEnergy", type: "SUM13" } };

for (const [name, src] of Object.entries(functions)) {
  let t = performance.now();
  for (let i = 0; i < 1000; i++) compileFunction(src, opts);
  const compileUs = ((performance.now() - t) / 1000) * 1000;
  const f = compileFunction(src, opts);
  let sink = 0;
  for (let i = 0; i < 10_000; i++) sink += Object.keys(f.call(answer, "cumPwr") as object).length; // warm up
  t = performance.now();
  for (let i = 0; i < calls; i++) sink += Object.keys(f.call(answer, "cumPwr") as object).length;
  const s = (performance.now() - t) / 1000;
  console.log(`${name}: compile ${compileUs.toFixed(1)} µs, ${Math.round(calls / s).toLocaleString("en")} calls/s (${((s / calls) * 1e6).toFixed(2)} µs/call)${sink < 0 ? "" : ""}`);
}
