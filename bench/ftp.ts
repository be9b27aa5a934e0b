// FTP: how fast the connector downloads and converts files from a real FTP server (pyftpdlib,
// Debian python3-pyftpdlib, on loopback). Two cases:
//  - many small CSV files (FULL, one wildcard path): files/s and MB/s;
//  - one large CSV file (FULL): MB/s and rows/s, and the RSS growth while it is read (it is
//    streamed line by line, so the growth stays far below the file size).
// The gateway's storage is left out (sendData counts and returns): this is the connector's cost.
// Usage: bun bench/ftp.ts [files=500] [rowsPerFile=200] [bigMB=100]

import { mkdirSync, mkdtempSync, writeFileSync, openSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../test/support/context.ts";
import { setStderrLogging } from "../src/observe/logger.ts";
import { FtpConnector } from "../src/connectors/ftp/connector.ts";
import { FtpConfigSchema } from "../src/connectors/ftp/schema.ts";
import { startFtpServer } from "../src/connectors/ftp/test/peer.ts";

const nFiles = Number(process.argv[2] ?? 500);
const rowsPerFile = Number(process.argv[3] ?? 200);
const bigMB = Number(process.argv[4] ?? 100);
setStderrLogging(false);

const root = mkdtempSync(join(tmpdir(), "tbgw-ftp-bench-"));
mkdirSync(join(root, "small"));
mkdirSync(join(root, "big"));
let smallBytes = 0;
for (let f = 0; f < nFiles; f++) {
  let text = "name,ts,temp,hum,model\n";
  for (let r = 0; r < rowsPerFile; r++) text += `dev${f % 50},${1700000000000 + r},${(20 + (r % 100) / 10).toFixed(1)},${40 + (r % 20)},M${f % 7}\n`;
  writeFileSync(join(root, "small", `f${f}.csv`), text);
  smallBytes += Buffer.byteLength(text);
}
const bigFile = join(root, "big", "big.csv");
let bigRows = 0;
{
  const fd = openSync(bigFile, "w");
  writeSync(fd, "name,ts,temp,hum,model\n");
  let written = 0;
  const target = bigMB * 1024 * 1024;
  while (written < target) {
    let chunk = "";
    for (let r = 0; r < 10_000; r++, bigRows++) chunk += `big${bigRows % 100},${1700000000000 + bigRows},${(20 + (bigRows % 100) / 10).toFixed(1)},${40 + (bigRows % 20)},M1\n`;
    written += writeSync(fd, chunk);
  }
  closeSync(fd);
}
const bigBytes = Bun.file(bigFile).size;

const server = await startFtpServer({ root });
const mapping = {
  readMode: "FULL",
  pollPeriod: 3600,
  maxFileSize: 100_000,
  devicePatternName: "${name}",
  attributes: [{ key: "model", value: "${model}" }],
  timeseries: [
    { key: "ts", value: "${ts}" },
    { key: "temp", value: "${temp}", type: "float" },
    { key: "hum", value: "${hum}", type: "int" },
  ],
};

async function run(path: string, expectRows: number): Promise<{ ms: number; rssGrowthMB: number }> {
  const configDir = mkdtempSync(join(tmpdir(), "tbgw-ftp-bench-cfg-"));
  const ctx = recordingContext({ type: "ftp", configDir });
  let rows = 0;
  let done: () => void;
  const finished = new Promise<void>((r) => (done = r));
  ctx.sendData = async (d) => {
    rows += Array.isArray(d) ? d.length : 1;
    if (rows >= expectRows) done();
    return "SUCCESS";
  };
  const config = FtpConfigSchema.parse({
    parameters: { host: "127.0.0.1", port: server.port, security: { type: "basic", username: server.user, password: server.password } },
    paths: [{ ...mapping, path }],
    settleTime: 0,
  });
  Bun.gc(true);
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const c = new FtpConnector(config, ctx);
  const started = performance.now();
  await c.start();
  await finished;
  const ms = performance.now() - started;
  clearInterval(sampler);
  await c.stop();
  return { ms, rssGrowthMB: (peak - rss0) / 1024 / 1024 };
}

try {
  const small = await run("small/*.csv", nFiles * rowsPerFile);
  const big = await run("big/big.csv", bigRows);
  const mb = (b: number) => b / 1024 / 1024;
  console.log(
    JSON.stringify(
      {
        smallFiles: {
          files: nFiles,
          rowsPerFile,
          MB: +mb(smallBytes).toFixed(1),
          seconds: +(small.ms / 1000).toFixed(2),
          filesPerSecond: Math.round(nFiles / (small.ms / 1000)),
          MBPerSecond: +(mb(smallBytes) / (small.ms / 1000)).toFixed(1),
          rowsPerSecond: Math.round((nFiles * rowsPerFile) / (small.ms / 1000)),
        },
        bigFile: {
          MB: +mb(bigBytes).toFixed(1),
          rows: bigRows,
          seconds: +(big.ms / 1000).toFixed(2),
          MBPerSecond: +(mb(bigBytes) / (big.ms / 1000)).toFixed(1),
          rowsPerSecond: Math.round(bigRows / (big.ms / 1000)),
          rssGrowthMB: +big.rssGrowthMB.toFixed(1),
        },
      },
      null,
      2,
    ),
  );
} finally {
  await server.stop();
}
