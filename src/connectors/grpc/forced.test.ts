// useGRPCForce through the whole gateway: the upstream tb_gateway.json with an mqtt entry marked
// "useGRPCForce": true and the upstream mqtt.json as its file. tb-gw launches
// <config>/grpc_connectors/mqtt/mqtt_connector.py (a test script, test/forced_connector.py, on
// Debian's grpcio with stubs generated from our messages.proto), which registers with the key
// tb-gw gave it and sends data the platform (Mosquitto + harness) sees. The script killed from
// outside is started again; the gateway's stop ends it; the key survives a gateway restart; one
// left running by a gateway killed outright is ended by the next gateway run. A
// second forced entry whose script is missing fails alone, with the path and the fix.

import { beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FROM_BOTH, gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { platformForFile } from "../../../test/support/platform.ts";
import { freePort } from "../../../test/support/ports.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import type { Started } from "../../../test/support/process.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { PYTHON, pythonStubs } from "./test/peer.ts";

const platform = platformForFile();
beforeAll(() => {
  pythonStubs();
  void gatewayBinary();
}, 240_000);

/** Whether `pid` runs (a zombie, dead but not yet reaped by whoever adopted it, does not). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

/** PIDs the platform got telemetry from for `device` (the script sends its pid), in arrival order. */
const pidsSeen = (device: string) => platform.harness.telemetry().filter((t) => t.device === device && t.key === "pid").map((t) => Number(t.value));

async function newPid(device: string, not: number[], what: string): Promise<number> {
  await platform.harness.waitFor(() => pidsSeen(device).some((p) => !not.includes(p)), 30_000, what);
  return pidsSeen(device).find((p) => !not.includes(p))!;
}

for (const from of FROM_BOTH) {
  test(`useGRPCForce (${from}): the Python process is launched with the key and config, sends data, is restarted when killed, ended at stop`, async () => {
    const port = await freePort();
    const name = `Forced MQTT ${from}`;
    const device = `${name} device`;
    const main = JSON.parse(readFileSync(join(SAMPLES, "tb_gateway.json"), "utf8"));
    main.thingsboard.host = "127.0.0.1";
    main.thingsboard.port = platform.port;
    // the interpreter Debian's python3-grpcio is installed for (a pyenv python3 may come first on PATH)
    main.grpc = { ...main.grpc, enabled: true, serverPort: port, serverHost: "127.0.0.1", python: PYTHON };
    main.connectors = [
      { type: "mqtt", name, configuration: "mqtt.json", useGRPCForce: true },
      { type: "socket", name: "No script", configuration: "socket.json", useGRPCForce: true },
    ];
    const mqttSample = JSON.parse(readFileSync(join(SAMPLES, "mqtt.json"), "utf8"));
    const files = writeGatewayConfig(main, { "mqtt.json": mqttSample, "socket.json": JSON.parse(readFileSync(join(SAMPLES, "socket.json"), "utf8")) });
    mkdirSync(join(files.dir, "grpc_connectors", "mqtt"), { recursive: true });
    copyFileSync(join(import.meta.dir, "test", "forced_connector.py"), join(files.dir, "grpc_connectors", "mqtt", "mqtt_connector.py"));
    const out = mkdtempSync(join(tmpdir(), "tbgw-forced-"));
    const env = { PYTHONPATH: pythonStubs(), FORCED_TEST_OUT: out };
    let gw: Started | undefined;
    const pids: number[] = [];
    try {
      gw = await startGatewayFrom(from, files.configPath, { env });
      // the entry without its script fails alone, naming where it looked and the fixes
      expect(gw.output()).toContain(`connector No script not started: "useGRPCForce": no socket/socket_connector.py found (looked at ${join(files.dir, "grpc_connectors", "socket", "socket_connector.py")}, `);
      expect(gw.output()).toContain(`or set "grpc": {"connectorsDir": "<folder holding socket/>"} in tb_gateway.json, or remove "useGRPCForce"`);

      const first = await newPid(device, [], "telemetry from the first Python process");
      pids.push(first);
      expect(platform.harness.telemetry().find((t) => t.device === device && t.key === "brokerHost")?.value).toBe(mqttSample.broker.host);

      // what it was launched with: argv JSON, config dir argument, and what registration sent
      const launch = JSON.parse(readFileSync(join(out, `launch-${first}.json`), "utf8"));
      const [json, dirArg] = launch.argv;
      const key = JSON.parse(readFileSync(join(files.dir, "persistent_keys.json"), "utf8"))[name];
      expect(key).toMatch(/^[0-9a-f]{10}$/);
      const id = JSON.parse(readFileSync(join(files.dir, "mqtt.json"), "utf8")).id;
      expect(typeof id).toBe("string");
      const { reportStrategy: _dropped, ...fileContent } = mqttSample;
      const expectedConfig = { ...fileContent, name, id };
      expect(JSON.parse(json)).toEqual({
        name,
        type: "mqtt",
        configuration: "mqtt.json",
        id,
        useGRPCForce: true,
        config: { "mqtt.json": expectedConfig },
        grpc_key: key,
        gateway: { host: "127.0.0.1", port, reconnectDelay: 5, checkIncomingDataIntervalMs: 1000, connectorKey: key },
      });
      expect(dirArg.endsWith("/")).toBe(true);
      expect(readFileSync(join(dirArg, "logs.json"), "utf8")).toContain("[logger_connector]");
      expect(launch.registration).toEqual({ connectorName: name, connectorId: id, configuration: expect.any(String) });
      expect(JSON.parse(launch.registration.configuration)).toEqual({ "mqtt.json": expectedConfig });
      // its log lines (Python logging via the INI logs.json) are in the gateway's log under the connector's name
      expect(gw.output()).toMatch(new RegExp(`INFO\\s+\\[${name}:python\\] test connector ${name} started as pid ${first}`));

      // killed from outside: started again, registers at once (the dead session's key was freed) and sends again
      process.kill(first, "SIGKILL");
      const second = await newPid(device, pids, "telemetry from the restarted Python process");
      pids.push(second);
      expect(gw.output()).toContain("Python connector process mqtt/mqtt_connector.py was ended by signal SIGKILL; starting it again in 1 s");
      expect(gw.output()).not.toContain("registration refused");
      expect(alive(second)).toBe(true);

      await gw.stop();
      gw = undefined;
      await waitUntil(() => !alive(second), 10_000, `the Python process ${second} to be gone after the gateway stopped`);

      // across a restart: the same persisted key, a new process
      gw = await startGatewayFrom(from, files.configPath, { env });
      const third = await newPid(device, pids, "telemetry after the gateway restart");
      pids.push(third);
      const again = JSON.parse(JSON.parse(readFileSync(join(out, `launch-${third}.json`), "utf8")).argv[0]);
      expect(again.grpc_key).toBe(key);

      // the gateway killed outright leaves its process running; the next gateway run ends it and starts its own
      await gw.stop("SIGKILL");
      gw = undefined;
      expect(alive(third)).toBe(true);
      gw = await startGatewayFrom(from, files.configPath, { env });
      const fourth = await newPid(device, pids, "telemetry after a restart that found a leftover process");
      pids.push(fourth);
      await waitUntil(() => !alive(third), 10_000, `the leftover process ${third} to be ended`);
      expect(gw.output()).toContain(`ended Python connector process mqtt/mqtt_connector.py pid ${third} left running by an earlier gateway run`);
      await gw.stop();
      gw = undefined;
      await waitUntil(() => !alive(fourth), 10_000, `the Python process ${fourth} to be gone after the gateway stopped`);
    } finally {
      await gw?.stop();
      for (const p of pids) if (alive(p)) process.kill(p, "SIGKILL"); // only if the test failed before the gateway ended them
    }
    expect(existsSync(out)).toBe(true);
  }, 120_000);
}

test("useGRPCForce (source): a changed connector file restarts the process with the new file", async () => {
  const port = await freePort();
  const name = "Forced reload";
  const device = `${name} device`;
  const main = {
    ...mainConfig(platform.port, { type: "memory" }, [{ type: "mqtt", name, configuration: "m.json", useGRPCForce: true }], { checkConnectorsConfigurationInSeconds: 1 }),
    grpc: { enabled: true, serverPort: port, serverHost: "127.0.0.1", python: PYTHON },
  };
  const files = writeGatewayConfig(main, { "m.json": { broker: { host: "first.example" }, mapping: [] } });
  mkdirSync(join(files.dir, "grpc_connectors", "mqtt"), { recursive: true });
  copyFileSync(join(import.meta.dir, "test", "forced_connector.py"), join(files.dir, "grpc_connectors", "mqtt", "mqtt_connector.py"));
  const out = mkdtempSync(join(tmpdir(), "tbgw-forced-"));
  let gw: Started | undefined;
  const pids: number[] = [];
  try {
    gw = await startGatewayFrom("source", files.configPath, { env: { PYTHONPATH: pythonStubs(), FORCED_TEST_OUT: out } });
    const first = await newPid(device, [], "telemetry from the first process");
    pids.push(first);
    const file = join(files.dir, "m.json");
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), broker: { host: "second.example" } }));
    const second = await newPid(device, pids, "telemetry from the process started for the new file");
    pids.push(second);
    expect(alive(first)).toBe(false);
    const sent = platform.harness.telemetry().filter((t) => t.device === device && t.key === "brokerHost").map((t) => t.value);
    expect(sent).toEqual(["first.example", "second.example"]);
    const json = JSON.parse(JSON.parse(readFileSync(join(out, `launch-${second}.json`), "utf8")).argv[0]);
    expect(json.config["m.json"].broker).toEqual({ host: "second.example" });
  } finally {
    await gw?.stop();
    for (const p of pids) if (alive(p)) process.kill(p, "SIGKILL");
  }
}, 90_000);
