// useGRPCForce helpers without processes: the script search order, the interpreter lookup, the
// config dir argument and its INI logs.json, the launch JSON, and output lines into log lines.

import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectHost, findPython, findScript, isIniLogging, outputLine, pythonConfigDir, pythonEnv, scriptSearchDirs } from "./launch.ts";
import { OutputLines } from "./output-lines.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "tbgw-launch-"));

test("script search: connectorsDir alone when set, else <config>/grpc_connectors then <config>/../grpc_connectors; none: every place and the fixes", () => {
  const root = tmp();
  const config = join(root, "config");
  mkdirSync(config);
  expect(scriptSearchDirs(config)).toEqual([join(config, "grpc_connectors"), join(root, "grpc_connectors")]);
  expect(scriptSearchDirs(config, "../py")).toEqual([join(root, "py")]);
  expect(() => findScript("mqtt", scriptSearchDirs(config))).toThrow(`no mqtt/mqtt_connector.py found (looked at ${join(config, "grpc_connectors/mqtt/mqtt_connector.py")}, ${join(root, "grpc_connectors/mqtt/mqtt_connector.py")})`);
  mkdirSync(join(root, "grpc_connectors", "mqtt"), { recursive: true });
  writeFileSync(join(root, "grpc_connectors", "mqtt", "mqtt_connector.py"), "");
  expect(findScript("mqtt", scriptSearchDirs(config))).toBe(join(root, "grpc_connectors", "mqtt", "mqtt_connector.py"));
  mkdirSync(join(config, "grpc_connectors", "mqtt"), { recursive: true });
  writeFileSync(join(config, "grpc_connectors", "mqtt", "mqtt_connector.py"), "");
  expect(findScript("mqtt", scriptSearchDirs(config))).toBe(join(config, "grpc_connectors", "mqtt", "mqtt_connector.py"));
});

test("interpreter: a path must exist, a name is looked up on PATH; missing: the fix", () => {
  expect(findPython("/usr/bin/python3")).toBe("/usr/bin/python3");
  expect(findPython("sh")).toMatch(/\/sh$/);
  expect(() => findPython("/nonexistent/python3")).toThrow('Python interpreter /nonexistent/python3 not found; install it (Debian: apt-get install python3 python3-grpcio) or set "grpc": {"python": "/path/to/python3"}');
  expect(() => findPython("no-such-python-here")).toThrow("no-such-python-here not found on PATH (");
});

test("config dir argument: ends with /; tb-gw's INI logs.json in the state folder unless the config folder's logs.json is INI already", () => {
  const config = tmp();
  const state = join(config, "state", "x", "python");
  writeFileSync(join(config, "logs.json"), JSON.stringify({ version: 1, loggers: {} }));
  const dir = pythonConfigDir(config, state, "debug");
  expect(dir).toBe(`${state}/`);
  const ini = readFileSync(join(dir, "logs.json"), "utf8");
  expect(isIniLogging(ini)).toBe(true);
  expect(ini).toContain("[logger_connector]\nlevel=DEBUG\nhandlers=stderr\nqualname=connector");
  writeFileSync(join(config, "logs.json"), "; mine\n[loggers]\nkeys=root\n");
  expect(pythonConfigDir(config, state)).toBe(`${config}/`);
  expect(isIniLogging('{"version": 1}')).toBe(false);
});

test("connect host and environment", () => {
  expect(connectHost("0.0.0.0")).toBe("127.0.0.1");
  expect(connectHost("[::]")).toBe("127.0.0.1");
  expect(connectHost("127.0.0.1")).toBe("127.0.0.1");
  const env = pythonEnv("/opt/tb/thingsboard_gateway/grpc_connectors/mqtt/mqtt_connector.py", { PYTHONPATH: "/x" });
  expect(env).toEqual({ PYTHONPATH: "/opt/tb:/x", PYTHONUNBUFFERED: "1" });
  expect(pythonEnv("/etc/tb-gw/grpc_connectors/mqtt/mqtt_connector.py", {})).toEqual({ PYTHONUNBUFFERED: "1" });
});

test("output lines: Python levels kept, a traceback is one error line, a line ending with ':' joins the next", () => {
  const got: string[] = [];
  const o = new OutputLines("stderr", (level, text) => got.push(`${level} ${text}`));
  for (const l of [
    "INFO Connector initialized",
    "WARNING  spaced",
    "plain stderr text",
    "",
    "Traceback (most recent call last):",
    '  File "/a/mqtt_connector.py", line 18, in <module>',
    "    import grpc",
    "ModuleNotFoundError: No module named 'grpc'",
    "Config:",
    "value 1",
    "Exception:",
  ])
    o.push(l);
  o.end();
  expect(got).toEqual([
    "info Connector initialized",
    "warn spaced",
    "warn plain stderr text",
    "error ModuleNotFoundError: No module named 'grpc' [Python traceback, innermost last: /a/mqtt_connector.py:18 in <module>]",
    "warn Config: value 1",
    "warn Exception: (nothing followed)",
  ]);
  expect(outputLine("hello", "stdout")).toEqual({ level: "info", text: "hello" });
});
