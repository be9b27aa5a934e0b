// A custom FTP uplink converter (upstream's `paths[].converter = {"type": "custom", "extension",
// "extension-config"}`) from <config folder>/extensions/ftp/, through the compiled binary, against
// pyftpdlib: the upstream sample ftp.json (host and port pointed at the test server) with two more
// paths, one converted by a JS class (built with the path entry, called per CSV line with the
// headers; returns upstream's legacy dict), one naming a class that does not exist. A line the class
// throws on is dropped with one error however often it happens; the sample's own path and the
// custom path's other lines still arrive.

import { beforeAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { platformForFile } from "../../../test/support/platform.ts";
import type { Started } from "../../../test/support/process.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { startFtpServer } from "./test/peer.ts";

const platform = platformForFile();
beforeAll(() => {
  gatewayBinary();
}, 240_000);

const CONVERTER = `
export class CustomFTPUplinkConverter {
  constructor(config, log) {
    this.settings = config.converter["extension-config"];
    this.pattern = config.path;
    log.info("built for " + config.path);
  }
  convert(config, line) {
    const cells = line.split(",");
    const value = Number(cells[1]);
    if (Number.isNaN(value)) throw new Error("not a number in column " + config.headers[1]);
    return {
      deviceName: this.settings.prefix + cells[0],
      deviceType: "meter",
      attributes: [{ file: config.fileName }, { ext: config.file_ext }],
      telemetry: [{ [config.headers[1]]: value * this.settings.scale }],
    };
  }
}
`;

test("paths[].converter: a JS class from extensions/ftp converts CSV lines in the binary; its errors are logged once; a missing class is one error", async () => {
  const server = await startFtpServer();
  let gw: Started | undefined;
  try {
    mkdirSync(join(server.root, "fol"));
    writeFileSync(join(server.root, "fol", "a_hello1.txt"), "123\n456\n");
    writeFileSync(join(server.root, "meters.csv"), "id,power\nm1,2\nm1,oops\nm2,bad\nm2,5\n");
    const cfg = JSON.parse(readFileSync(join(SAMPLES, "ftp.json"), "utf8"));
    cfg.host = "127.0.0.1";
    cfg.port = server.port;
    cfg.paths.push(
      { path: "*.csv", readMode: "FULL", pollPeriod: 1, converter: { type: "custom", extension: "CustomFTPUplinkConverter", "extension-config": { prefix: "ftp-", scale: 10 } } },
      { path: "*.csv", readMode: "FULL", pollPeriod: 1, converter: { type: "custom", extension: "NoSuchConverter" } },
    );
    const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "ftp", name: "FTP custom", configuration: "ftp.json" }]), { "ftp.json": cfg });
    mkdirSync(join(files.dir, "extensions", "ftp"), { recursive: true });
    writeFileSync(join(files.dir, "extensions", "ftp", "custom_ftp_uplink_converter.js"), CONVERTER);
    gw = await startGatewayFrom("binary", files.configPath);
    const power = (d: string) => platform.harness.telemetry().filter((t) => t.device === d && t.key === "power").map((t) => t.value);
    await platform.harness.waitFor(() => power("ftp-m1").length >= 1 && power("ftp-m2").length >= 1, 30_000, "both good lines through the custom converter");
    await platform.harness.waitFor(() => platform.harness.telemetry().some((t) => t.device === "asd" && t.key === "temp"), 30_000, "the sample's own path");
    expect(power("ftp-m1")).toEqual([20]);
    expect(power("ftp-m2")).toEqual([50]);
    await platform.harness.waitFor(
      (h) => h.received.find((r) => r.topic === "v1/gateway/attributes" && r.body?.["ftp-m2"]?.file),
      15_000,
      "the legacy attribute list",
    );
    const a = platform.harness.received.find((r) => r.topic === "v1/gateway/attributes" && r.body?.["ftp-m1"]?.file)!.body["ftp-m1"];
    expect(a).toEqual({ file: "meters.csv", ext: "csv" });
    const out = gw.output();
    // two bad lines in a row, the same error: one line in the log, and one when a line works again
    expect(out.match(/custom converter CustomFTPUplinkConverter failed: not a number in column power/g)).toHaveLength(1);
    expect(out.match(/custom converter CustomFTPUplinkConverter works again/g)).toHaveLength(1);
    expect(out).toMatch(/path \*\.csv: converter NoSuchConverter cannot be used \(custom converter class NoSuchConverter not found in .*extensions\/ftp; the folder exports: CustomFTPUplinkConverter \(custom_ftp_uplink_converter\.js\)\); this path is not read/);
    expect(out).toContain("built for *.csv");
  } finally {
    await gw?.stop();
    await server.stop();
  }
}, 240_000);
