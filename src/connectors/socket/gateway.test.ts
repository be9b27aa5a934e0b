// The Socket connector through the whole gateway: `tb-gw run` as its own process, Mosquitto with
// the harness playing the platform, socat and Python-socket peers as devices. The upstream sample
// socket.json, changed only in its port, gives what the Python gateway would send, and the
// downlink reaches the device; it also runs once from the compiled binary.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { mainConfig, startGateway, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { testBinary } from "../../../test/support/binary.ts";
import { platformForFile } from "../../../test/support/platform.ts";
import { freePort, freeUdpPort } from "../../../test/support/ports.ts";
import { startProcess, type Started } from "../../../test/support/process.ts";
import { startPyPeer, startSocat } from "./test/peer.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { join } from "node:path";

const SAMPLE = join(SAMPLES, "socket.json");
const DEVICE = "Device Example";

const platform = platformForFile();

/** Platform messages of `device` on `topic` (v1/gateway/attributes bodies are keyed by device). */
const bodies = (topic: string, device: string) => platform.harness.received.filter((r) => r.topic === topic && r.body?.[device] !== undefined).map((r) => r.body[device]);

/** The upstream sample with only its port changed, behind a gateway started by `start`. */
async function runUpstreamSample(start: (configPath: string) => Promise<Started>): Promise<void> {
  const port = await freePort();
  const socketCfg = JSON.parse(readFileSync(SAMPLE, "utf8"));
  socketCfg.socket.port = port;
  const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "socket", name: "Socket sample", configuration: "socket.json" }]), { "socket.json": socketCfg });
  const received = platform.harness.received.length;
  const gw = await start(files.configPath);
  const device = startSocat(`TCP:127.0.0.1:${port}`);
  try {
    // What the Python gateway sends for the frame "21.5": every byte slice as text.
    device.write("21.5");
    const telemetry = await platform.harness.waitFor((h) => h.received.slice(received).find((r) => r.topic === "v1/gateway/telemetry" && r.body[DEVICE]), 15_000, "sample telemetry");
    expect(telemetry.body[DEVICE]).toEqual([{ ts: expect.any(Number), values: { temp: "21.5", hum: "21" } }]);
    await platform.harness.waitFor((h) => h.received.slice(received).some((r) => r.topic === "v1/gateway/attributes" && r.body[DEVICE]?.name), 15_000, "sample attributes");
    expect(bodies("v1/gateway/attributes", DEVICE).slice(-2)).toContainEqual({ name: "21.5", num: ".5" });
    expect(bodies("v1/gateway/attributes", DEVICE)).toContainEqual({ connectorType: "socket", connectorName: "Socket sample" });
    expect(platform.harness.received.slice(received).find((r) => r.topic === "v1/gateway/connect")?.body).toEqual({ device: DEVICE, type: "default" });

    // sharedName update → its rule's utf-16 (BOM, little-endian) on the open connection
    await platform.harness.sendAttributeUpdate(DEVICE, { sharedName: "Hi" });
    await device.outputUntil((b) => b.length >= 6, "attribute update at the device");
    expect(device.output()).toEqual(Buffer.from([0xff, 0xfe, 0x48, 0x00, 0x69, 0x00]));

    // rpcMethod1 (withResponse) → the params written, "ok" back to the platform
    await platform.harness.sendDeviceRpc(DEVICE, 41, "rpcMethod1", "hello");
    await device.outputUntil((b) => b.subarray(6).toString() === "hello", "RPC params at the device");
    const reply = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === 41 && r.body.device === DEVICE), 10_000, "RPC reply");
    expect(reply.body.data).toEqual({ success: true, response: "ok" });

    // "atr" + name: the gateway asks the platform and writes the value back as JSON; no telemetry
    platform.harness.sharedAttributes[DEVICE] = { sharedName: "Hi" };
    const before = platform.harness.telemetry().length;
    device.write("atrsharedName");
    await device.outputUntil((b) => b.subarray(11).toString() === '"Hi"', "attribute request answer at the device");
    expect(platform.harness.received.find((r) => r.topic === "v1/gateway/attributes/request" && r.body.device === DEVICE)?.body).toMatchObject({ keys: ["sharedName"], client: false });
    device.write("22.5");
    await platform.harness.waitFor((h) => h.telemetry().some((t) => t.device === DEVICE && t.value === "22.5"), 10_000, "telemetry after the request");
    expect(platform.harness.telemetry().slice(before).filter((t) => t.device === DEVICE && String(t.value).startsWith("atr"))).toEqual([]);
  } finally {
    await device.stop();
    await gw.stop();
  }
}

describe("socket connector in the gateway", () => {
  test("upstream socket.json (port changed): the Python gateway's data on the platform, downlink at the device", async () => {
    await runUpstreamSample((path) => startGateway(path));
  }, 60_000);

  test("TCP client mode and UDP: uplink to the platform, RPC and attribute update back to the devices", async () => {
    const { peer: tcpDevice, first } = await startPyPeer(["tcp-server"]);
    const udpPort = await freeUdpPort();
    const udpDevice = startSocat(`UDP:127.0.0.1:${udpPort}`);
    let gw: Started | undefined;
    try {
      const tcpAddress = `127.0.0.1:${first.split(" ")[1]}`;
      const client = {
        socket: { type: "TCP", mode: "client", framing: { type: "delimiter", delimiterHex: "0d0a" } },
        devices: [{ address: tcpAddress, deviceName: "tcp-meter", deviceType: "meter", telemetry: [{ key: "kwh", byteFrom: 0, byteTo: -1 }], serverSideRpc: [{ methodRPC: "reset" }] }],
      };
      const udp = {
        socket: { type: "UDP", address: "127.0.0.1", port: udpPort },
        devices: [{ address: "127.0.0.1:*", deviceName: "udp-probe", encoding: "hex", attributes: [{ key: "raw", byteFrom: 0 }], attributeUpdates: [{ attributeOnThingsBoard: "led" }] }],
      };
      const files = writeGatewayConfig(
        mainConfig(platform.port, { type: "memory" }, [
          { type: "socket", name: "Meters", configuration: "meters.json" },
          { type: "socket", name: "Probes", configuration: "probes.json" },
        ]),
        { "meters.json": client, "probes.json": udp },
      );
      gw = await startGateway(files.configPath);
      await tcpDevice.line(/^ACCEPT 0 /, "the gateway connecting to the device");
      await tcpDevice.cmd(`send ${Buffer.from("1234.5\r\n1234.6\r").toString("hex")} 0`);
      await tcpDevice.cmd(`send ${Buffer.from("\n").toString("hex")} 0`);
      udpDevice.write(Buffer.from([0x01, 0xab, 0xff]));
      await platform.harness.waitFor((h) => h.telemetry().filter((t) => t.device === "tcp-meter").length === 2, 15_000, "two meter readings");
      expect(platform.harness.telemetry().filter((t) => t.device === "tcp-meter").map((t) => t.value)).toEqual(["1234.5", "1234.6"]);
      await platform.harness.waitFor((h) => bodies("v1/gateway/attributes", "udp-probe").some((a) => a.raw), 15_000, "probe attribute");
      expect(bodies("v1/gateway/attributes", "udp-probe")).toContainEqual({ raw: "01abff" });

      await platform.harness.sendDeviceRpc("tcp-meter", 5, "reset", "RESET");
      await tcpDevice.receivedUntil(0, (b) => b.toString() === "RESET", "RPC at the TCP device");
      await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === 5), 10_000, "RPC reply");
      // hex encoding: the attribute value is hex text written as bytes, from the gateway's UDP port
      await platform.harness.sendAttributeUpdate("udp-probe", { led: "0102ff" });
      await udpDevice.outputUntil((b) => b.equals(Buffer.from([0x01, 0x02, 0xff])), "attribute update datagram at the UDP device");
    } finally {
      await gw?.stop();
      await udpDevice.stop();
      await tcpDevice.stop();
    }
  }, 60_000);

  test("upstream socket.json from the compiled binary", async () => {
    const bin = testBinary("tbgw-socket-bin-");
    await runUpstreamSample((path) => {
      const [cmd, args] = bin.command(["run", "--config", path]);
      return startProcess(cmd, args, { ready: /gateway started/, timeoutMs: 30_000, env: { TB_GW_LOG_LEVEL: "INFO" } });
    });
  }, 240_000);
});
