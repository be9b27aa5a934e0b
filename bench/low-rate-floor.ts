// The floor under bench/low-rate.ts: the least a Bun process can do for the same work, as a
// reference for what the gateway's own code costs on top of Bun, the sockets and sqlite.
// `bun bench/low-rate.ts --floor` runs this in the gateway's place and the same bench measures it.
//
// It takes the gateway's command line (`run --config tb_gateway.json`), reads the platform port,
// the storage type and the MQTT connector's broker and topic filter from those files, and does
// per batch what the gateway does, with nothing else: QoS 1 subscription to the device broker, a
// 30 ms gathering window with reading paused (the held-back read closes it, and the next window
// follows at once while traffic lasts), one sqlite transaction (the batch's rows in, the rows the
// platform acknowledged since out) when storage is sqlite, the batch's PUBACKs in one write, one
// QoS 1 publish of gateway-API telemetry to the platform. No config validation, converter
// expressions, report strategies, statistics or logging: hand-written MQTT frames, JSON.parse and
// JSON.stringify. Not a gateway: no reconnect, no limits, no restart; it exists to be measured.

import { Database } from "bun:sqlite";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Socket } from "bun";

const WINDOW_MS = 30;
/** If the window's end finds nothing held back, the batch goes after this long anyway. */
const HELD_READ_MS = 2;

const configPath = resolve(process.argv[process.argv.indexOf("--config") + 1] ?? "tb_gateway.json");
const main = JSON.parse(readFileSync(configPath, "utf8"));
const connector = JSON.parse(readFileSync(join(dirname(configPath), main.connectors[0].configuration), "utf8"));
const topicFilter: string = connector.mapping[0].topicFilter;
const devicePrefix = topicFilter.slice(0, topicFilter.indexOf("+"));

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function mqttString(s: string): number[] {
  const b = utf8.encode(s);
  return [b.length >> 8, b.length & 0xff, ...b];
}

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 0x80;
    out.push(digit);
  } while (n > 0);
  return out;
}

function frame(header: number, body: number[]): Uint8Array {
  return new Uint8Array([header, ...remainingLength(body.length), ...body]);
}

const connectFrame = (clientId: string) => frame(0x10, [...mqttString("MQTT"), 4, 0x02, 0, 60, ...mqttString(clientId)]);

/** sqlite storage with the gateway's layout and settings (WAL, synchronous NORMAL, one page per commit). */
class FloorStorage {
  /** One transaction: the batch's rows in, what the platform acknowledged since out. */
  readonly commit: (rows: string[]) => void;
  lastId = 0;
  private ackedUpTo = 0;

  constructor(db: Database) {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL, message TEXT NOT NULL)");
    db.exec("DELETE FROM messages");
    const insert = db.prepare("INSERT INTO messages (timestamp, message) VALUES (?, ?)");
    const remove = db.prepare("DELETE FROM messages WHERE id <= ?");
    this.commit = db.transaction((rows: string[]) => {
      const now = Date.now();
      for (const r of rows) this.lastId = Number(insert.run(now, r).lastInsertRowid);
      if (this.ackedUpTo > 0) remove.run(this.ackedUpTo);
      this.ackedUpTo = 0;
    });
  }

  acked(id: number): void {
    if (id > this.ackedUpTo) this.ackedUpTo = id;
  }
}

/** Splits a stream into MQTT frames; keeps an incomplete one for the next read. */
class FrameReader {
  private partial: Uint8Array | undefined;

  constructor(private readonly onFrame: (type: number, flags: number, body: Uint8Array) => void) {}

  read(data: Uint8Array): void {
    const buf = this.partial ? new Uint8Array([...this.partial, ...data]) : data;
    this.partial = undefined;
    let at = 0;
    while (at + 2 <= buf.length) {
      let length = 0;
      let shift = 1;
      let p = at + 1;
      let digit: number;
      do {
        digit = buf[p++]!;
        length += (digit & 0x7f) * shift;
        shift *= 128;
      } while (digit & 0x80 && p < buf.length);
      if (p + length > buf.length) break;
      this.onFrame(buf[at]! >> 4, buf[at]! & 0x0f, buf.subarray(p, p + length));
      at = p + length;
    }
    if (at < buf.length) this.partial = buf.slice(at);
  }
}

function openDatabase(folder: string): Database {
  mkdirSync(folder, { recursive: true });
  return new Database(join(folder, "floor.db"), { create: true });
}

type Held = { device: string; values: Record<string, unknown>; raw: string; packetId: number };

let deviceSocket: Socket<undefined>;
let platformSocket: Socket<undefined>;
const storage = main.storage?.type === "sqlite" ? new FloorStorage(openDatabase(join(dirname(configPath), main.storage.data_file_path ?? "./data/"))) : undefined;
let held: Held[] = [];
let windowTimer: Timer | undefined;
let closing = false;
let heldReadTimer: Timer | undefined;
let nextPacketId = 0;
/** Platform packet id → the last storage row its publish carried. */
const inFlight = new Map<number, number>();
const deviceFrames = new FrameReader((type, flags, body) => type === 3 && onDevicePublish(flags, body));
const platformFrames = new FrameReader((type, _flags, body) => {
  if (type !== 4) return; // PUBACK
  const id = (body[0]! << 8) | body[1]!;
  const row = inFlight.get(id);
  inFlight.delete(id);
  if (row) storage?.acked(row);
});

function openWindow(): void {
  deviceSocket.pause();
  windowTimer = setTimeout(windowOver, WINDOW_MS);
}

function windowOver(): void {
  windowTimer = undefined;
  closing = true;
  deviceSocket.resume();
  heldReadTimer = setTimeout(() => sendBatch(false), HELD_READ_MS);
}

/** `follow`: the held-back read brought messages, so traffic lasts and the next window starts now. */
function sendBatch(follow: boolean): void {
  closing = false;
  if (heldReadTimer) clearTimeout(heldReadTimer);
  heldReadTimer = undefined;
  const batch = held;
  held = [];
  if (batch.length === 0) return;
  storage?.commit(batch.map((m) => m.raw));
  const acks = new Uint8Array(batch.length * 4);
  for (let i = 0; i < batch.length; i++) acks.set([0x40, 2, batch[i]!.packetId >> 8, batch[i]!.packetId & 0xff], i * 4);
  deviceSocket.write(acks);
  const now = Date.now();
  const body: Record<string, Array<{ ts: number; values: Record<string, unknown> }>> = {};
  for (const m of batch) (body[m.device] ??= []).push({ ts: now, values: m.values });
  publish("v1/gateway/telemetry", utf8.encode(JSON.stringify(body)));
  // its first message is then held rather than waking the process
  if (follow) openWindow();
}

function publish(topic: string, payload: Uint8Array): void {
  nextPacketId = (nextPacketId % 0xffff) + 1;
  inFlight.set(nextPacketId, storage?.lastId ?? 0);
  const head = [...mqttString(topic), nextPacketId >> 8, nextPacketId & 0xff];
  const fixed = [0x32, ...remainingLength(head.length + payload.length), ...head];
  const out = new Uint8Array(fixed.length + payload.length);
  out.set(fixed);
  out.set(payload, fixed.length);
  platformSocket.write(out);
}

function onDevicePublish(flags: number, body: Uint8Array): void {
  const topicLength = (body[0]! << 8) | body[1]!;
  const topic = fromUtf8.decode(body.subarray(2, 2 + topicLength));
  const qos = (flags >> 1) & 3;
  const packetId = qos > 0 ? (body[2 + topicLength]! << 8) | body[3 + topicLength]! : 0;
  const raw = fromUtf8.decode(body.subarray(2 + topicLength + (qos > 0 ? 2 : 0)));
  held.push({ device: topic.slice(devicePrefix.length), values: JSON.parse(raw), raw, packetId });
  if (!windowTimer && !closing) openWindow();
}

deviceSocket = await Bun.connect({
  hostname: connector.broker.host,
  port: connector.broker.port,
  socket: {
    open(s) {
      s.write(connectFrame(connector.broker.clientId ?? "floor"));
      s.write(frame(0x82, [0, 1, ...mqttString(topicFilter), 1]));
    },
    data(_s, data) {
      deviceFrames.read(data);
      // the read that the window held back closes it
      if (closing) sendBatch(true);
    },
  },
});

platformSocket = await Bun.connect({
  hostname: main.thingsboard.host,
  port: main.thingsboard.port,
  socket: {
    open(s) {
      s.write(connectFrame("floor-platform"));
    },
    data(_s, data) {
      platformFrames.read(data);
    },
  },
});

console.log("floor: gateway started");
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0));
