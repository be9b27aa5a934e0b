// SocketCAN for real: the compiled tb-gw with the upstream can.json UNCHANGED (socketcan, vcan0,
// CAN FD on) inside a VM running Debian's kernel with vcan (test/vm.ts: this machine's own kernel
// has no CAN), can-utils' cansend/candump as the independent bus peer in the guest, and Mosquitto
// with the platform harness on host loopback, reached through qemu's guestfwd. Checks: polls on the
// bus, classic and CAN FD frames to the platform, an error frame logged, attribute update and RPC as
// frames, the interface going down and coming back (one error line, reconnect), and stop.

import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { testBinary } from "../../../test/support/binary.ts";
import { mainConfig, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { platformForFile } from "../../../test/support/platform.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { GUEST_PLATFORM_HOST, GUEST_PLATFORM_PORT, startCanVm, vmUnavailable, type CanVm } from "./test/vm.ts";

const DEVICE = "Car";
const unavailable = vmUnavailable();
if (unavailable) console.warn(`SocketCAN VM test skipped: ${unavailable}`);

const platform = platformForFile({ skip: Boolean(unavailable) });

describe("SocketCAN in a VM with vcan (compiled binary, upstream can.json)", () => {
  test.skipIf(unavailable !== undefined)(
    "polls, classic and FD frames, error frame, downlink, interface down and up, stop",
    async () => {
      let vm: CanVm | undefined;
      try {
        vm = await startCanVm(platform.port);
        const v = vm;
        const slow = v.kvm ? 1 : 4;
        const file = (name: string) => (existsSync(join(v.share, name)) ? readFileSync(join(v.share, name), "utf8") : "");
        const gwLog = () => file("gw.log");
        const busLog = () => file("bus.log");
        const waitLog = (pred: () => boolean, what: string, ms = 60_000) =>
          waitUntil(pred, ms * slow, what, 100).catch((e) => {
            throw new Error(`${e.message}\n--- gateway log:\n${gwLog().slice(-3000)}\n--- bus:\n${busLog().slice(-1000)}`);
          });

        const canCfg = JSON.parse(readFileSync(join(SAMPLES, "can.json"), "utf8")); // used as it is
        const main = mainConfig(GUEST_PLATFORM_PORT, { type: "memory" }, [{ type: "can", name: "CAN sample", configuration: "can.json" }], { host: GUEST_PLATFORM_HOST });
        writeGatewayConfig(main, { "can.json": canCfg }, v.share);
        copyFileSync(testBinary("tbgw-canvm-bin-").path, join(v.share, "tb-gw"));

        // candump: the independent view of the bus (every frame on vcan0, the gateway's included)
        await v.run("stdbuf -oL candump -L vcan0 > bus.log 2>&1 & echo $! > candump.pid");
        await v.run("TB_GW_LOG_LEVEL=INFO ./tb-gw run --config tb_gateway.json > gw.log 2>&1 & echo $! > gw.pid");
        await waitLog(() => /connected to the CAN bus \(socketcan vcan0\)/.test(gwLog()), "the gateway to open vcan0", 120_000);
        const connect = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/connect" && r.body.device === DEVICE), 60_000 * slow, "device connect");
        expect(connect.body).toEqual({ device: DEVICE, type: "can" });

        // the sample's polls as candump saw them: once (41) and the two periodic ones on extended 1918
        await waitLog(() => /vcan0 029#ABCDABCD/.test(busLog()) && /vcan0 0000077E#AAAABBBBAAAABBBB/.test(busLog()) && /vcan0 0000077E#AABBCCDDEEFFAABB/.test(busLog()), "the polling frames on the bus");

        // a classic frame with the door state, and the rpm/milliage frame on extended 1918
        const before = platform.harness.received.length;
        await v.run("cansend vcan0 029#0000220D04 && cansend vcan0 0000077E#0000BBBB0FA00000");
        const door = await platform.harness.waitFor((h) => h.received.slice(before).find((r) => r.topic === "v1/gateway/attributes" && r.body[DEVICE]?.isDriverDoorOpened !== undefined), 30_000 * slow, "door attribute");
        expect(door.body[DEVICE]).toEqual({ isDriverDoorOpened: true });
        const values = await platform.harness.waitFor((h) => {
          const rows = h.received.slice(before).filter((r) => r.topic === "v1/gateway/telemetry" && r.body[DEVICE]);
          const all = Object.assign({}, ...rows.flatMap((r) => r.body[DEVICE].map((e: { values: object }) => e.values)));
          return "rpm" in all ? all : undefined;
        }, 30_000 * slow, "rpm telemetry");
        expect(values).toEqual({ rpm: 1000, milliage: 409750 });

        // the same door key from a CAN FD frame (72-byte canfd_frame; `##1` = bit rate switch), door closed
        const beforeFd = platform.harness.received.length;
        await v.run("cansend vcan0 029##10000220D00");
        const doorFd = await platform.harness.waitFor((h) => h.received.slice(beforeFd).find((r) => r.topic === "v1/gateway/attributes" && r.body[DEVICE]?.isDriverDoorOpened !== undefined), 30_000 * slow, "door attribute from an FD frame");
        expect(doorFd.body[DEVICE]).toEqual({ isDriverDoorOpened: false });

        // an error frame (CAN_ERR_FLAG | CAN_ERR_BUSOFF): cansend sends an 8-digit id with bit 29 as an error frame
        await v.run("cansend vcan0 20000040#0000000000000000");
        await waitLog(() => /error frame from the CAN controller: bus off/.test(gwLog()), "the error frame in the gateway log");

        // downlink: attribute update and RPC written as frames (seen by candump)
        await platform.harness.sendAttributeUpdate(DEVICE, { softwareVersion: 10 });
        await waitLog(() => /vcan0 00000040#0F000000/.test(busLog()), "the attribute update frame");
        await platform.harness.sendDeviceRpc(DEVICE, 300, "setSpeed", { userSpeed: 50, maxAllowedSpeed: 40 });
        await waitLog(() => /vcan0 010#280102/.test(busLog()), "the RPC frame");
        const reply = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === 300), 30_000 * slow, "RPC reply");
        expect(reply.body.data).toEqual({ success: true });

        // the interface goes down: one error line naming it; back up: reopened (reconnectPeriod 5 s)
        await v.run("ip link set down vcan0");
        await waitLog(() => /CAN bus socketcan vcan0 failed: .*ENETDOWN/.test(gwLog()), "the failure logged");
        await v.run("ip link set up vcan0");
        await waitLog(() => (gwLog().match(/connected to the CAN bus \(socketcan vcan0\)/g) ?? []).length >= 2, "the bus reopened");
        expect((gwLog().match(/CAN bus socketcan vcan0 failed/g) ?? []).length).toBe(1);
        const afterUp = platform.harness.received.length;
        await v.run("cansend vcan0 029#0000220D04");
        await platform.harness.waitFor((h) => h.received.slice(afterUp).find((r) => r.topic === "v1/gateway/attributes" && r.body[DEVICE]?.isDriverDoorOpened === true), 30_000 * slow, "data after the reopening");

        // stop: the counters line, and no log line with an empty error text
        await v.run("kill -TERM $(cat gw.pid); while kill -0 $(cat gw.pid) 2>/dev/null; do sleep 0.1; done", 60_000);
        const log = gwLog();
        expect(log).toMatch(/frames received \d+, converted \d+, dropped 0/);
        const bad = log.split("\n").filter((l) => l.endsWith("()") || l.endsWith(": ") || /\bundefined\b/.test(l));
        expect(bad).toEqual([]);
      } finally {
        await vm?.stop();
      }
    },
    900_000,
  );
});
