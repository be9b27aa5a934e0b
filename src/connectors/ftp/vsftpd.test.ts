// The connector against a second, independent FTP server: Debian's vsftpd (anonymous, read-only,
// passive mode on loopback), started here with its own config on free ports. vsftpd lists with
// LIST only (no MLSD), so this also covers the listing fallback pyftpdlib never needs.

import { afterEach, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { freePort } from "../../../test/support/ports.ts";
import { FtpConnector } from "./connector.ts";
import { FtpConfigSchema } from "./schema.ts";

const VSFTPD = "/usr/sbin/vsftpd";

let vsftpd: ReturnType<typeof Bun.spawn> | undefined;
let connector: FtpConnector | undefined;
afterEach(async () => {
  await connector?.stop();
  vsftpd?.kill();
  await vsftpd?.exited;
  connector = vsftpd = undefined;
});

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1", () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

test("vsftpd (anonymous, LIST only): the CSV files under a wildcard arrive once, typed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-vsftpd-"));
  const root = join(dir, "root");
  mkdirSync(join(root, "meters"), { recursive: true });
  mkdirSync(join(dir, "empty"));
  writeFileSync(join(root, "meters", "a.csv"), "name,temp,ok\nmeter-a,21.5,true\n");
  writeFileSync(join(root, "meters", "b.csv"), "name,temp,ok\nmeter-b,-3,false\n");
  chmodSync(root, 0o555); // vsftpd refuses a writable anonymous root
  const port = await freePort();
  const pasv = 40000 + Math.floor(Math.random() * 20000);
  writeFileSync(
    join(dir, "vsftpd.conf"),
    [
      "listen=YES",
      "listen_address=127.0.0.1",
      `listen_port=${port}`,
      "background=NO",
      "anonymous_enable=YES",
      `anon_root=${root}`,
      "no_anon_password=YES",
      "local_enable=NO",
      "write_enable=NO",
      "pasv_enable=YES",
      "pasv_address=127.0.0.1",
      `pasv_min_port=${pasv}`,
      `pasv_max_port=${pasv + 20}`,
      "seccomp_sandbox=NO",
      `secure_chroot_dir=${join(dir, "empty")}`,
      "xferlog_enable=NO",
    ].join("\n") + "\n",
  );
  vsftpd = Bun.spawn([VSFTPD, join(dir, "vsftpd.conf")], { stdout: "ignore", stderr: "pipe" });
  for (let i = 0; i < 200 && !(await accepts(port)); i++) await Bun.sleep(25);
  expect(await accepts(port)).toBe(true);

  const ctx = recordingContext({ type: "ftp", configDir: mkdtempSync(join(tmpdir(), "tbgw-ftp-cfg-")) });
  const config = FtpConfigSchema.parse({
    parameters: { host: "127.0.0.1", port, security: { type: "anonymous" } },
    paths: [
      {
        path: "meters/*.csv",
        readMode: "FULL",
        pollPeriod: 1,
        devicePatternName: "${name}",
        timeseries: [
          { key: "temp", value: "${temp}", type: "double" },
          { key: "ok", value: "${ok}", type: "bool" },
        ],
      },
    ],
  });
  connector = new FtpConnector(config, ctx);
  await connector.start();
  await ctx.waitFor((sent) => sent.length >= 2, 30_000, "both files");
  const byDevice = Object.fromEntries(ctx.sent.map((d) => [d.deviceName, d.telemetry![0]!.values]));
  expect(byDevice).toEqual({ "meter-a": { temp: 21.5, ok: true }, "meter-b": { temp: -3, ok: false } });
  // unchanged files are not sent again on later polls
  const before = ctx.sent.length;
  await Bun.sleep(2500);
  expect(ctx.sent.length).toBe(before);
}, 60_000);
