// The connector on its own (a recording context stands in for the gateway) against pyftpdlib with
// a command trace, for what needs the server's view: a FULL file that changes while the connector
// waits for it to settle is not read half now and whole later.

import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { FtpConnector } from "./connector.ts";
import { FtpConfigSchema } from "./schema.ts";
import { startFtpServer, type FtpServer } from "./test/peer.ts";

let server: FtpServer | undefined;
let connector: FtpConnector | undefined;
afterEach(async () => {
  await connector?.stop();
  await server?.stop();
  connector = server = undefined;
});

describe("ftp connector", () => {
  test("FULL: a file that grows while it settles is read once, complete", async () => {
    server = await startFtpServer({ trace: true });
    writeFileSync(join(server.root, "data.csv"), "name,v\nd,1\nd,2\n");
    const ctx = recordingContext({ type: "ftp", configDir: mkdtempSync(join(tmpdir(), "tbgw-ftp-cfg-")) });
    const config = FtpConfigSchema.parse({
      parameters: { host: "127.0.0.1", port: server.port, security: { type: "basic", username: server.user, password: server.password } },
      paths: [{ path: "*.csv", readMode: "FULL", pollPeriod: 1, devicePatternName: "${name}", timeseries: [{ key: "v", value: "${v}", type: "int" }] }],
      settleTime: 4,
    });
    connector = new FtpConnector(config, ctx);
    await connector.start();
    const s = server;
    // The first listing has seen the file; it is still being written while the connector waits.
    await waitUntil(() => s.commands().some((c) => c.startsWith("MLSD")), 20_000, "the first listing");
    appendFileSync(join(server.root, "data.csv"), "d,3\n");
    await ctx.waitFor((sent) => sent.length >= 3, 30_000, "the file, once complete");
    // Later polls find it unchanged: nothing more.
    const listings = s.commands().filter((c) => c.startsWith("MLSD")).length;
    await waitUntil(() => s.commands().filter((c) => c.startsWith("MLSD")).length >= listings + 2, 20_000, "two more listings");
    const values = ctx.sent.flatMap((d) => d.telemetry!.map((t) => t.values.v));
    expect(values).toEqual([1, 2, 3]);
    expect(s.commands().filter((c) => c.startsWith("RETR"))).toEqual(["RETR data.csv"]);
  }, 90_000);

  test("a server that goes away and comes back: one error, then reading resumes where it stopped (PARTIAL)", async () => {
    server = await startFtpServer();
    const root = server.root;
    const port = server.port;
    writeFileSync(join(root, "log.csv"), "name,v\nd,1\n");
    const ctx = recordingContext({ type: "ftp", name: "Recovering", configDir: mkdtempSync(join(tmpdir(), "tbgw-ftp-cfg-")) });
    const logs: LogRecord[] = [];
    const removeSink = addLogSink((r) => r.scope.includes("Recovering") && logs.push(r));
    try {
      const config = FtpConfigSchema.parse({
        parameters: { host: "127.0.0.1", port, security: { type: "basic", username: server.user, password: server.password } },
        paths: [{ path: "*.csv", readMode: "PARTIAL", pollPeriod: 1, devicePatternName: "${name}", timeseries: [{ key: "v", value: "${v}", type: "int" }] }],
      });
      connector = new FtpConnector(config, ctx);
      await connector.start();
      await ctx.waitFor((sent) => sent.length >= 1, 20_000, "the first row");
      await server.stop();
      server = undefined;
      await waitUntil(() => logs.some((l) => l.level === "ERROR"), 20_000, "the lost server reported");
      appendFileSync(join(root, "log.csv"), "d,2\n");
      server = await startFtpServer({ root, port });
      await ctx.waitFor((sent) => sent.length >= 2, 40_000, "the row appended while the server was away");
      const values = ctx.sent.flatMap((d) => d.telemetry!.map((t) => t.values.v));
      expect(values).toEqual([1, 2]);
      const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
      expect(errors.length).toBe(1);
      expect(errors[0]).toContain(`ftp://127.0.0.1:${port}`);
      expect(logs.some((l) => l.message.includes("working again"))).toBe(true);
    } finally {
      removeSink();
    }
  }, 120_000);
});
