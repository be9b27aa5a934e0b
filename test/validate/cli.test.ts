// `tb-gw validate` and `tb-gw schema` as a user runs them: exit codes, output format, options.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SAMPLES } from "../support/paths.ts";

const ROOT = join(import.meta.dir, "../..");
const CASES = join(ROOT, "test/cases/validate");
const SAMPLE = join(SAMPLES, "tb_gateway.json");
const work = mkdtempSync(join(tmpdir(), "tbgw-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// The environment without TB_GW_* overrides (and the lower-case upstream names) that would change results.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TB_GW_") && !/^(host|port|type|accessToken|username|password)$/.test(k)));

async function tbgw(args: string[], cwd = ROOT): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([join(ROOT, "node_modules/.bin/bun"), join(ROOT, "cli/main.ts"), ...args], { cwd, env: { ...cleanEnv, NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe" });
  try {
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, out, err };
  } finally {
    p.kill();
  }
}

describe("tb-gw validate", () => {
  test("a valid config exits 0 and says so", async () => {
    const r = await tbgw(["validate", SAMPLE]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${SAMPLE} and 0 connector configs: valid`);
  }, 20_000);

  test("errors exit 1 with file:line:col, the line and a caret", async () => {
    const file = join(CASES, "syntax-trailing-comma/tb_gateway.json");
    const r = await tbgw(["validate", file]);
    expect(r.code).toBe(1);
    const lines = r.out.split("\n");
    const i = lines.findIndex((l) => l.startsWith(`${file}:7:30: error: trailing comma`));
    expect(i).toBeGreaterThanOrEqual(0);
    expect(lines[i + 1]).toBe('    7 |       "accessToken": "abc123",');
    expect(lines[i + 2]).toBe("      |                              ^");
    expect(r.out).toContain("1 error, 0 warnings");
  }, 20_000);

  test("all errors at once, machine-readable with --format json", async () => {
    const file = join(CASES, "many-errors-at-once/tb_gateway.json");
    const r = await tbgw(["validate", file, "--format", "json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.valid).toBe(false);
    expect(j.errors).toBe(3);
    expect(j.warnings).toBe(1);
    expect(j.diagnostics.map((d: any) => `${d.line}:${d.col}:${d.severity}:${d.path}`)).toEqual([
      "4:13:error:thingsboard.port",
      "5:12:error:thingsboard.qos",
      "6:5:warning:thingsboard.keepAlive",
      "14:26:error:storage.max_records_count",
    ]);
  }, 20_000);

  test("warnings pass, unless --strict; --quiet prints only errors", async () => {
    const file = join(CASES, "semantic-tls-port-without-tls/tb_gateway.json");
    const plain = await tbgw(["validate", file]);
    expect(plain.code).toBe(0);
    expect(plain.out).toContain("warning: port 8883 is MQTT over TLS");
    const strict = await tbgw(["validate", file, "--strict"]);
    expect(strict.code).toBe(1);
    expect(strict.out).toContain("error: port 8883 is MQTT over TLS");
    const quiet = await tbgw(["validate", file, "--quiet"]);
    expect(quiet.code).toBe(0);
    expect(quiet.out).toBe("");
  }, 30_000);

  test("usage errors exit 2: missing file, unknown option, --sample without --connector", async () => {
    const missing = await tbgw(["validate", join(work, "nope.json")]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("config file not found");
    expect((await tbgw(["validate", "--no-such-option"])).code).toBe(2);
    const sample = await tbgw(["validate", SAMPLE, "--sample", SAMPLE]);
    expect(sample.code).toBe(2);
    expect(sample.err).toContain("--sample needs --connector");
  }, 30_000);

  test("without a path, finds ./tb_gateway.json then ./config/tb_gateway.yaml like run", async () => {
    const dir = join(work, "discover");
    mkdirSync(join(dir, "config"), { recursive: true });
    writeFileSync(join(dir, "config/tb_gateway.yaml"), "thingsboard:\n  host: 127.0.0.1\n  port: 70000\n  security:\n    accessToken: a\nstorage:\n  type: memory\n");
    const yaml = await tbgw(["validate"], dir);
    expect(yaml.code).toBe(1);
    expect(yaml.out).toContain(`${join(dir, "config/tb_gateway.yaml")}:3:9: error: thingsboard.port = 70000 is out of range`);
    writeFileSync(join(dir, "tb_gateway.json"), readFileSync(SAMPLE));
    const json = await tbgw(["validate"], dir);
    expect(json.code).toBe(0);
    expect(json.out).toContain(join(dir, "tb_gateway.json"));
  }, 30_000);

  test("nothing to validate exits 2 and says where it looked", async () => {
    const etc = ["/etc/tb-gw/tb_gateway.json", "/etc/tb-gw/tb_gateway.yaml", "/etc/thingsboard-gateway/config/tb_gateway.json"];
    if (etc.some(existsSync)) return; // this machine has a system-wide config; discovery would find it
    const empty = join(work, "empty");
    mkdirSync(empty);
    const r = await tbgw(["validate"], empty);
    expect(r.code).toBe(2);
    expect(r.err).toContain("no config file found");
  }, 20_000);
});

describe("tb-gw schema", () => {
  test("prints the main schema, writes one file per kind, refuses an unknown kind", async () => {
    const main = await tbgw(["schema", "main"]);
    expect(main.code).toBe(0);
    const js = JSON.parse(main.out);
    expect(js.properties.thingsboard.properties.port.maximum).toBe(65535);
    const out = join(work, "schemas");
    const w = await tbgw(["schema", "--out", out]);
    expect(w.code).toBe(0);
    expect(readdirSync(out)).toContain("main.schema.json");
    const bad = await tbgw(["schema", "no-such-kind"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("kinds: main");
  }, 30_000);
});
