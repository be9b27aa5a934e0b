// The FTP connector through the whole gateway: `tb-gw run` as its own process, Mosquitto with the
// harness playing the platform, pyftpdlib (Debian python3-pyftpdlib) as the FTP server serving a
// temp folder. The upstream sample ftp.json (only host, port pointed at the test server) from
// source and from the compiled binary; PARTIAL reads across a restart (binary); wildcard folders,
// files created after start, change detection and a malformed line (source).

import { beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig, FROM_BOTH } from "../../../test/support/gateway.ts";
import { platformForFile } from "../../../test/support/platform.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import type { Started } from "../../../test/support/process.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { makeCertificate, startFtpServer } from "./test/peer.ts";

const platform = platformForFile();
beforeAll(() => {
  gatewayBinary(); // built once, before any test's own timeout runs
}, 240_000);

const rows = (device: string, key: string) => platform.harness.telemetry().filter((t) => t.device === device && t.key === key);
const attrs = (device: string, since = 0) => platform.harness.received.slice(since).filter((r) => r.topic === "v1/gateway/attributes" && r.body?.[device]).map((r) => r.body[device]);
/** Telemetry rows that arrived after `since` (an index into harness.received). */
const rowsSince = (since: number) => {
  const before = platform.harness.received.slice(0, since).filter((r) => r.topic === "v1/gateway/telemetry").length;
  let seen = 0;
  const out: ReturnType<typeof platform.harness.telemetry> = [];
  for (const r of platform.harness.received) {
    if (r.topic !== "v1/gateway/telemetry") continue;
    if (seen++ < before) continue;
    for (const [device, entries] of Object.entries(r.body as Record<string, any[]>)) for (const e of entries) for (const [key, value] of Object.entries(e.values ?? {})) out.push({ device, ts: e.ts, key, value });
  }
  return out;
};

function ftpMain(connectorFile: string, name = "FTP") {
  return mainConfig(platform.port, { type: "memory" }, [{ type: "ftp", name, configuration: connectorFile }]);
}

describe("ftp connector in the gateway", () => {
  for (const from of FROM_BOTH) {
    test(`upstream ftp.json (host and port changed) from ${from}: sliced text to the platform, attribute update and RPC write/read files`, async () => {
      const server = await startFtpServer();
      let gw: Started | undefined;
      try {
        mkdirSync(join(server.root, "fol"));
        writeFileSync(join(server.root, "fol", "a_hello1.txt"), "123\n456\n");
        writeFileSync(join(server.root, "fol", "other.txt"), "999\n"); // does not match *_hello*
        const cfg = JSON.parse(readFileSync(join(SAMPLES, "ftp.json"), "utf8"));
        cfg.host = "127.0.0.1";
        cfg.port = server.port;
        const files = writeGatewayConfig(ftpMain("ftp.json"), { "ftp.json": cfg });
        const start = platform.harness.received.length;
        gw = await startGatewayFrom(from, files.configPath);
        // [0:1] is the key and the value (type int), temp = [1:] (int); attributes are text
        await platform.harness.waitFor(() => rowsSince(start).filter((t) => t.device === "asd" && t.key === "temp").length >= 2, 30_000, "both lines' telemetry");
        const fresh = rowsSince(start).filter((t) => t.device === "asd");
        expect(fresh.filter((t) => t.key === "temp").map((t) => t.value).sort()).toEqual([23, 56]);
        expect(fresh.find((t) => t.key === "1")?.value).toBe(1);
        expect(fresh.find((t) => t.key === "4")?.value).toBe(4);
        expect(fresh.some((t) => t.value === 99 || t.value === 999)).toBe(false);
        await platform.harness.waitFor(() => attrs("asd", start).some((a) => a.temp === "56"), 15_000, "attributes");
        // both lines' attributes go in one batch: the platform keeps the last values
        expect(attrs("asd", start)).toContainEqual({ temp: "56", tmp: "4" });
        expect(platform.harness.received.slice(start).find((r) => r.topic === "v1/gateway/connect")?.body).toEqual({ device: "asd", type: "Device" });

        // attribute update with two keys → both in fol/hello.json (upstream writes one)
        await platform.harness.sendAttributeUpdate("asd", { mode: "eco", level: 3 });
        const hello = join(server.root, "fol", "hello.json");
        await waitUntil(() => existsSync(hello) && readFileSync(hello, "utf8").includes("level"), 15_000, "fol/hello.json written");
        expect(JSON.parse(readFileSync(hello, "utf8"))).toEqual({ mode: "eco", level: "3" });

        // RPC write, then read it back
        const id = from === "binary" ? 100 : 0;
        await platform.harness.sendDeviceRpc("asd", 7 + id, "write", "fol/out.txt;hello there");
        const w = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === 7 + id && r.body.data), 15_000, "write reply");
        // upstream's reply {"result": {"result": {"value": ...}}}, of which the platform gets the inner result
        expect(w.body.data).toEqual({ result: { value: "hello there" } });
        expect(readFileSync(join(server.root, "fol", "out.txt"), "utf8")).toBe("hello there");
        await platform.harness.sendDeviceRpc("asd", 8 + id, "read", "fol/a_hello1.txt");
        const r = await platform.harness.waitFor((h) => h.received.find((x) => x.topic === "v1/gateway/rpc" && x.body.id === 8 + id && x.body.data), 15_000, "read reply");
        // upstream's reply {"result": "<text>"}: the platform gets the text
        expect(r.body.data).toBe("123\n456\n");
      } finally {
        await gw?.stop();
        await server.stop();
      }
    }, 120_000);
  }

  test("PARTIAL csv: appended rows arrive once, also across a restart of the binary; a bad timestamp still sends the attributes", async () => {
    const server = await startFtpServer();
    let gw: Started | undefined;
    try {
      mkdirSync(join(server.root, "logs"));
      const csv = join(server.root, "logs", "meter.csv");
      writeFileSync(csv, "name,ts,temp,model\nm1,1700000000001,20.5,A\nm1,1700000000002,21.5,A\n");
      const cfg = {
        parameters: { host: "127.0.0.1", port: server.port, security: { type: "basic", username: server.user, password: server.password } },
        paths: [
          {
            path: "logs/*.csv",
            readMode: "PARTIAL",
            pollPeriod: 1,
            devicePatternName: "${name}",
            attributes: [{ key: "model", value: "${model}" }],
            timeseries: [
              { key: "ts", value: "${ts}" },
              { key: "temp", value: "${temp}", type: "float" },
            ],
          },
        ],
      };
      const files = writeGatewayConfig(ftpMain("ftp.json", "Meters"), { "ftp.json": cfg });
      const temps = () => rows("m1", "temp").map((t) => [t.ts, t.value] as [number, unknown]);
      gw = await startGatewayFrom("binary", files.configPath);
      await platform.harness.waitFor(() => temps().length >= 2, 30_000, "the first two rows");
      appendFileSync(csv, "m1,1700000000003,22.5,A\n");
      await platform.harness.waitFor(() => temps().length >= 3, 30_000, "the appended row");
      await gw.stop();
      gw = undefined;
      expect(existsSync(join(files.dir, "ftp", "Meters.json"))).toBe(true);
      appendFileSync(csv, "m1,1700000000004,23.5,A\nm1,not-a-time,24.5,B\n");
      gw = await startGatewayFrom("binary", files.configPath);
      await platform.harness.waitFor(() => temps().length >= 5, 30_000, "rows appended while stopped");
      await platform.harness.waitFor(() => attrs("m1").some((a) => a.model === "B"), 15_000, "attributes of the row with a bad timestamp");
      appendFileSync(csv, "m1,1700000000006,25.5,C\n");
      await platform.harness.waitFor(() => temps().length >= 6, 30_000, "a row after the restart");
      const out = gw.output();
      expect(out).toContain("logs/meter.csv line 6: bad timestamp");
      expect(temps().filter(([ts]) => ts !== undefined && ts < 1_700_000_001_000)).toEqual([
        [1700000000001, 20.5],
        [1700000000002, 21.5],
        [1700000000003, 22.5],
        [1700000000004, 23.5],
        [1700000000006, 25.5],
      ]);
      expect(temps().map(([, v]) => v)).toEqual([20.5, 21.5, 22.5, 23.5, 24.5, 25.5]);
    } finally {
      await gw?.stop();
      await server.stop();
    }
  }, 240_000);

  test("PARTIAL: a line still being written is read once, when its newline arrives", async () => {
    const server = await startFtpServer();
    let gw: Started | undefined;
    try {
      mkdirSync(join(server.root, "logs"));
      const csv = join(server.root, "logs", "a.csv");
      writeFileSync(csv, "name,n,temp\nw1,1,20\nw1,2,2");
      const cfg = {
        parameters: { host: "127.0.0.1", port: server.port, security: { type: "basic", username: server.user, password: server.password } },
        paths: [{ path: "logs/*.csv", readMode: "PARTIAL", pollPeriod: 1, devicePatternName: "${name}", timeseries: [{ key: "temp", value: "${temp}", type: "int" }, { key: "n", value: "${n}", type: "int" }] }],
      };
      const files = writeGatewayConfig(ftpMain("ftp.json"), { "ftp.json": cfg });
      gw = await startGatewayFrom("source", files.configPath);
      const temps = () => rows("w1", "temp").map((t) => t.value);
      await platform.harness.waitFor(() => temps().length >= 1, 30_000, "the complete line");
      // Two more files, one after the other: the half line has been looked at in later polls.
      for (const other of ["b", "c"]) {
        writeFileSync(join(server.root, "logs", `${other}.csv`), `name,n,temp\n${other}1,1,5\n`);
        await platform.harness.waitFor(() => rows(`${other}1`, "temp").length >= 1, 30_000, `${other}.csv`);
      }
      expect(temps()).toEqual([20]);
      appendFileSync(csv, "1\nw1,3,22\n");
      await platform.harness.waitFor(() => temps().length >= 3, 30_000, "the completed line and the next");
      expect(temps()).toEqual([20, 21, 22]);
      expect(rows("w1", "n").map((t) => t.value)).toEqual([1, 2, 3]);
    } finally {
      await gw?.stop();
      await server.stop();
    }
  }, 120_000);

  test("FULL JSON with wildcard folders: new files and folders after start, changed files re-read, unchanged not; a malformed line is reported and the rest read; connector RPC ftp_write/ftp_read and reserved set/get", async () => {
    const server = await startFtpServer();
    let gw: Started | undefined;
    try {
      mkdirSync(join(server.root, "data", "a"), { recursive: true });
      const m1 = join(server.root, "data", "a", "m1.json");
      writeFileSync(m1, '{"device":"j1","temp":1}\n{"device":"j1", temp}\n{"device":"j1","temp":3}\n');
      const cfg = {
        parameters: { host: "127.0.0.1", port: server.port, security: { type: "basic", username: server.user, password: server.password } },
        paths: [{ path: "data/*/m*.json", readMode: "FULL", pollPeriod: 1, devicePatternName: "${device}", devicePatternType: "sensor", timeseries: [{ key: "temp", value: "${temp}" }] }],
      };
      const files = writeGatewayConfig(ftpMain("ftp.json"), { "ftp.json": cfg });
      gw = await startGatewayFrom("source", files.configPath);
      const values = (d: string) => rows(d, "temp").map((t) => t.value);
      await platform.harness.waitFor(() => values("j1").length >= 2, 30_000, "m1.json");
      const g = gw;
      await waitUntil(() => g.output().includes("data/a/m1.json line 2: not valid JSON"), 10_000, "the malformed line reported");
      expect(values("j1")).toEqual([1, 3]);

      // a new folder and file after start
      mkdirSync(join(server.root, "data", "b"));
      writeFileSync(join(server.root, "data", "b", "m2.json"), '[{"device":"j2","temp":7},{"device":"j2","temp":8}]');
      await platform.harness.waitFor(() => values("j2").length >= 2, 30_000, "m2.json created after start");
      expect(values("j2")).toEqual([7, 8]);
      expect(values("j1")).toEqual([1, 3]); // unchanged: not sent again

      // m1 changes: the whole file again (FULL), the malformed line reported again
      appendFileSync(m1, '{"device":"j1","temp":4}\n');
      await platform.harness.waitFor(() => values("j1").length >= 5, 30_000, "m1.json re-read");
      expect(values("j1")).toEqual([1, 3, 1, 3, 4]);
      expect(values("j2")).toEqual([7, 8]);

      // connector RPC ftp_write / ftp_read, and the reserved set / get of a device
      const gatewayReply = (id: number) => platform.harness.waitFor((h) => h.received.find((r) => r.topic === `v1/devices/me/rpc/response/${id}`), 15_000, `gateway RPC ${id}`);
      await platform.harness.sendGatewayRpc(31, "ftp_write", { valueExpression: "notes.txt;from the platform" });
      await gatewayReply(31);
      expect(readFileSync(join(server.root, "notes.txt"), "utf8")).toBe("from the platform");
      await platform.harness.sendGatewayRpc(32, "ftp_read", { valueExpression: "notes.txt" });
      expect(JSON.stringify((await gatewayReply(32)).body)).toContain("from the platform");
      await platform.harness.sendDeviceRpc("j1", 33, "set", "filePath=data/j1.txt;value=on");
      await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === 33 && r.body.data), 15_000, "set reply");
      expect(readFileSync(join(server.root, "data", "j1.txt"), "utf8")).toBe("on");
      await platform.harness.sendDeviceRpc("j1", 34, "get", "filePath=data/j1.txt");
      const got = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === 34 && r.body.data), 15_000, "get reply");
      expect(got.body.data).toBe("on");
    } finally {
      await gw?.stop();
      await server.stop();
    }
  }, 120_000);

  for (const from of FROM_BOTH) {
    test(`FTPS from ${from}: explicit and implicit TLS verified with the CA; without it the certificate is refused; SSLVerify false reads with a warning`, async () => {
      const cert = makeCertificate();
      const explicit = await startFtpServer({ tls: cert });
      const implicit = await startFtpServer({ tls: cert, implicit: true, root: explicit.root });
      let gw: Started | undefined;
      try {
        writeFileSync(join(explicit.root, "x.txt"), "42\n");
        const conn = (device: string, port: number, extra: Record<string, unknown>) => ({
          parameters: { host: "127.0.0.1", port, TLSSupport: true, security: { type: "basic", username: explicit.user, password: explicit.password }, ...extra },
          paths: [{ path: "x.txt", readMode: "FULL", pollPeriod: 1, txtFileDataView: "SLICED", devicePatternName: device, timeseries: [{ key: "v", value: "[:]", type: "int" }] }],
        });
        const files = writeGatewayConfig(
          mainConfig(platform.port, { type: "memory" }, [
            { type: "ftp", name: "ca", configuration: "ca.json" },
            { type: "ftp", name: "implicit", configuration: "implicit.json" },
            { type: "ftp", name: "noca", configuration: "noca.json" },
            { type: "ftp", name: "noverify", configuration: "noverify.json" },
          ]),
          {
            "ca.json": conn(`tls-ca-${from}`, explicit.port, { caCert: cert.ca }),
            "implicit.json": conn(`tls-implicit-${from}`, implicit.port, { TLSMode: "implicit", caCert: cert.ca }),
            "noca.json": conn(`tls-noca-${from}`, explicit.port, {}),
            "noverify.json": conn(`tls-noverify-${from}`, explicit.port, { SSLVerify: false }),
          },
        );
        gw = await startGatewayFrom(from, files.configPath);
        for (const d of ["ca", "implicit", "noverify"]) await platform.harness.waitFor(() => rows(`tls-${d}-${from}`, "v").length >= 1, 30_000, `${d} data`);
        expect(rows(`tls-ca-${from}`, "v").map((r) => r.value)).toEqual([42]);
        const g = gw;
        await waitUntil(() => /ftps:\/\/127\.0\.0\.1:\d+: self.signed certificate/.test(g.output()), 15_000, "the refused certificate logged");
        expect(g.output()).toContain("SSLVerify is false");
        expect(rows(`tls-noca-${from}`, "v")).toEqual([]);
      } finally {
        await gw?.stop();
        await implicit.stop();
        await explicit.stop();
      }
    }, 120_000);
  }
});
