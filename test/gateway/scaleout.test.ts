// Scale-out (README "Scaling out"): three instances of one config (`run --instance N`) share the
// device stream through an MQTT shared subscription ($share/tbgw/sensors/+) on mosquitto 2.0.
// - kill -9 of one instance under load, restarted, with persistent sessions: nothing lost;
//   duplicates counted and reported;
// - kill -9 without a restart, with clean sessions (the default): the other two take over at once;
//   only what the broker had handed to the killed instance and it had not stored is lost;
// - downlink to a device whose last messages went through instance 3: its RPC and attribute
//   update, sent to instance 3 only, reach the device through the device broker.

import { expect, test } from "bun:test";
import mqtt, { type MqttClient } from "mqtt";
import { join } from "node:path";
import { startFleet, tally, ranges, type Fleet } from "../support/fleet.ts";
import { BUN, CLI } from "../support/gateway.ts";
import { startMosquitto, type Broker } from "../support/mosquitto.ts";
import { sensorConnector } from "./fixtures.ts";

const DEVICES = 10;
const devices = Array.from({ length: DEVICES }, (_, d) => `dev-${d}`);

/** The sensors connector on `$share/tbgw/sensors/+`, client id "tbgw-share" (instances append -N). */
function sharedConnector(port: number, broker: Record<string, unknown> = {}): Record<string, unknown> {
  const c = sensorConnector(port, { broker: { clientId: "tbgw-share", ...broker } });
  (c.mapping as Array<Record<string, unknown>>)[0]!.topicFilter = "$share/tbgw/sensors/+";
  return c;
}

/** Publish until every instance delivered a warm-up message (round robin): all are subscribed. */
async function warmUp(client: MqttClient, fleet: Fleet): Promise<void> {
  const has = (h: Fleet["harnesses"][number]) => h.telemetry().some((r) => r.device === "warm-up");
  const all = () => fleet.harnesses.every(has);
  // Bounded by time, not by tries: waiting only on instances that still lack one (an instance
  // that already has it would end each wait at once, and a slow start ran out of tries in 1 s).
  const until = Date.now() + 30_000;
  while (!all() && Date.now() < until) {
    await client.publishAsync("sensors/warm-up", JSON.stringify({ seq: 0 }), { qos: 1 });
    await Promise.race(fleet.harnesses.filter((h) => !has(h)).map((h) => h.waitFor((x) => has(x), 300, "warm-up").catch(() => {})));
  }
  if (!all()) throw new Error(`not every instance delivered the warm-up message within 30 s (${fleet.harnesses.filter(has).length} of ${fleet.harnesses.length} did)`);
}

/**
 * `perDevice` messages per device at about `rate` messages/s, seq from 1; `at(sent)` after each
 * round; `progress.sent` counts what was published so far.
 */
async function load(client: MqttClient, perDevice: number, rate: number, at?: (sent: number) => void, progress = { sent: 0 }): Promise<void> {
  const started = Date.now();
  let sent = 0;
  for (let s = 1; s <= perDevice; s++) {
    for (const d of devices) {
      client.publish(`sensors/${d}`, JSON.stringify({ seq: s, k1: s }), { qos: 1 });
      progress.sent = ++sent;
    }
    at?.(sent);
    const wait = started + (sent / rate) * 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

const everySeq = (fleet: Fleet, last: number) => () => tally(fleet.harnesses, devices, last).missing.size === 0;

function report(fleet: Fleet, last: number): string {
  const t = tally(fleet.harnesses, devices, last);
  return [...t.missing].map(([d, l]) => `${d} missing ${ranges(l)}`).join("\n") || "nothing missing";
}

/** Resolves when the broker's log says `clientId` is gone (its socket closed after the kill). */
async function brokerSawDisconnect(broker: Broker, clientId: string): Promise<void> {
  const gone = new RegExp(`Client ${clientId} (closed its connection|disconnected)`);
  for (let i = 0; i < 200 && !gone.test(broker.output()); i++) await new Promise((r) => setTimeout(r, 25));
  if (!gone.test(broker.output())) throw new Error(`the device broker never logged the disconnect of ${clientId}:\n${broker.output().slice(-2000)}`);
}

let device: Broker | undefined;
let client: MqttClient | undefined;
async function setUp(): Promise<{ device: Broker; client: MqttClient }> {
  device = await startMosquitto();
  client = await mqtt.connectAsync(device.url, { clientId: `scaleout-devices-${Math.random().toString(16).slice(2)}` });
  return { device, client };
}
async function tearDown(fleet: Fleet | undefined): Promise<void> {
  try {
    await fleet?.dispose();
  } finally {
    await client?.endAsync(true).catch(() => {});
    await device?.dispose();
  }
}

test("3 instances on $share/tbgw/sensors/+ with persistent sessions: kill -9 of one under load and a restart lose nothing; duplicates are counted", async () => {
  const { device, client } = await setUp();
  let fleet: Fleet | undefined;
  try {
    fleet = await startFleet({ instances: 3, connector: sharedConnector(device.port, { cleanSession: false }) });
    await warmUp(client, fleet);
    const perDevice = 300; // 3,000 messages at 300/s
    let restarted: Promise<unknown> | undefined;
    const f = fleet;
    await load(client, perDevice, 300, (sent) => {
      if (sent === 1000 && !restarted) restarted = f.kill(2).then(() => f.start(2));
    });
    await restarted;
    if (!(await f.until(everySeq(f, perDevice), 45000))) throw new Error(`${report(f, perDevice)}\n--- instance 2 after restart:\n${f.gateways[1]?.output().slice(-2000)}`);
    const t = tally(f.harnesses, devices, perDevice);
    const shares = f.harnesses.map((h) => h.telemetry().filter((r) => r.key === "seq" && r.device !== "warm-up").length);
    console.log(`kill -9 + restart, persistent sessions: ${t.received} received for 3000 sent, ${t.duplicates} duplicates; per instance ${shares.join("/")}`);
    // every instance took part, and the killed one resumed after its restart
    for (const s of shares) expect(s).toBeGreaterThan(0);
    expect(f.gateways[1]!.output()).toMatch(/instance 2 of /);
    // duplicates come only from a resend (a message stored but not yet acknowledged): at most what one instance had in flight
    expect(t.duplicates).toBeLessThan(1000);
  } finally {
    await tearDown(fleet);
  }
}, 90000);

test("clean sessions (the default) on $share: after kill -9 without a restart the other instances take over at once; only messages in flight to the killed one are lost", async () => {
  const { device, client } = await setUp();
  let fleet: Fleet | undefined;
  try {
    fleet = await startFleet({ instances: 3, connector: sharedConnector(device.port) });
    await warmUp(client, fleet);
    const f = fleet;
    const perDevice = 200;
    // killedAt: messages published when the broker had seen the killed instance go; those after
    // it must all arrive, those before may have been handed to the killed instance
    let killedAt = 0;
    let killed: Promise<void> | undefined;
    const progress = { sent: 0 };
    await load(
      client,
      perDevice,
      300,
      (sent) => {
        if (sent === 600 && !killed) killed = f.kill(3).then(() => brokerSawDisconnect(device, "tbgw-share-3")).then(() => void (killedAt = progress.sent));
      },
      progress,
    );
    await killed;
    expect(killedAt).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(perDevice * DEVICES); // the kill happened under load
    const firstAfter = Math.floor(killedAt / DEVICES) + 2;
    const arrivedAfterKill = () => {
      const t = tally(f.harnesses.slice(0, 2), devices, perDevice);
      for (const l of t.missing.values()) if (l.some((s) => s >= firstAfter)) return false;
      return true;
    };
    if (!(await f.until(arrivedAfterKill, 30000))) throw new Error(`messages published after the kill are missing:\n${report(f, perDevice)}`);
    const lost = [...tally(f.harnesses, devices, perDevice).missing.values()].reduce((a, l) => a + l.length, 0);
    console.log(`kill -9 without restart, clean sessions: ${lost} of ${perDevice * DEVICES} messages lost (in flight to the killed instance); messages after its disconnect: all delivered by instances 1 and 2`);
    // at most what was sent before the broker saw the disconnect and had not been delivered
    expect(lost).toBeLessThan(killedAt);
  } finally {
    await tearDown(fleet);
  }
}, 60000);

test("downlink across instances: an RPC and an attribute update for a device last reported through instance 3 are delivered by instance 3 to the device broker; tail --list shows the instances", async () => {
  const { device, client } = await setUp();
  let fleet: Fleet | undefined;
  try {
    fleet = await startFleet({ instances: 3, connector: sharedConnector(device.port) });
    await warmUp(client, fleet);
    const f = fleet;
    // publish as thermo-N until one of them was last reported through instance 3
    const h3 = f.harnesses[2]!;
    let target: string | undefined;
    for (let i = 0; i < 60 && !target; i++) {
      await client.publishAsync(`sensors/thermo-${i}`, JSON.stringify({ seq: 1 }), { qos: 1 });
      target = await h3.waitFor((h) => h.telemetry().some((r) => r.device === `thermo-${i}`) && `thermo-${i}`, 300, "").catch(() => undefined);
    }
    expect(target).toBeDefined();
    // tb-gw tail --list shows the three instances of this config, each on its own status socket
    const tail = Bun.spawn([BUN, CLI, "tail", "--list", "--config", f.configPath], { stdout: "pipe", stderr: "pipe" });
    const listed = await new Response(tail.stdout).text();
    expect(await tail.exited).toBe(0);
    expect(listed.split("\n").filter(Boolean).map((l) => /--instance (\d+) .*socket (\S+)$/.exec(l)?.slice(1))).toEqual(["1", "2", "3"].map((n) => [n, join(f.dir, `status@${n}.sock`)]));
    const dev = await mqtt.connectAsync(device.url, { clientId: `scaleout-thermo-${Math.random().toString(16).slice(2)}` });
    try {
      const attrs = new Promise<string>((resolve) => dev.on("message", (t, p) => t === `sensors/${target}/attrs` && resolve(p.toString())));
      dev.on("message", (t, p) => {
        // the device answers its RPC on the reply topic
        const m = /^sensors\/[^/]+\/rpc\/(\d+)$/.exec(t);
        if (m) dev.publish(`sensors/${target}/rpc-reply/${m[1]}`, JSON.stringify({ echoed: JSON.parse(p.toString()) }), { qos: 1 });
      });
      await dev.subscribeAsync([`sensors/${target}/rpc/+`, `sensors/${target}/attrs`], { qos: 1 });
      await h3.sendDeviceRpc(target!, 42, "echo", { hello: "from instance 3" });
      const reply = await h3.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body?.device === target && r.body?.id === 42), 15000, "RPC reply through instance 3");
      expect(reply.body.data).toEqual({ echoed: { hello: "from instance 3" } });
      await h3.sendAttributeUpdate(target!, { setpoint: 21.5 });
      expect(JSON.parse(await attrs)).toEqual({ setpoint: 21.5 });
    } finally {
      await dev.endAsync(true);
    }
  } finally {
    await tearDown(fleet);
  }
}, 60000);
