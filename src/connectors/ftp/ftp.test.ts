// The connector on its own (a recording context stands in for the gateway) against pyftpdlib with
// a command trace, for what needs the server's view: a FULL file that changes while the connector
// waits for it to settle is not read half now and whole later.

import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
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
});
