// One polled slave (one platform device): its merged read plan, its poll loop with jitter and
// back-off, decoding into ConvertedData, and error logging once per change (not once per poll).

import type { ConnectorContext } from "../../core/connector.ts";
import type { ConvertedData, ReportStrategyConfig } from "../../core/model.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import type { CustomUplink } from "../../common/converters/custom-uplink.ts";
import { decodeNumberAt, decodeRegisters, orderBits, postProcess, type Order, type PostOptions } from "./codec.ts";
import { isModbusException, type ModbusLink } from "./link.ts";
import { expandKey, mergeReads, type ReadBlock, type ReadKey } from "./plan.ts";
import type { SlaveConfig } from "./schema.ts";

/** Longest pause between polls of a slave that keeps failing. */
const MAX_BACKOFF_MS = 30_000;

export type RawRead = { kind: "bits"; bits: boolean[] } | { kind: "regs"; regs: number[] };

export async function readRaw(link: ModbusLink, unitId: number, fc: number, address: number, count: number): Promise<RawRead> {
  if (fc === 3 || fc === 4) return { kind: "regs", regs: await link.request(unitId, (c) => c.readRegisters(fc, address, count)) };
  if (fc === 1 || fc === 2) return { kind: "bits", bits: await link.request(unitId, (c) => c.readBits(fc, address, count)) };
  throw new Error(`function code ${fc} cannot read`);
}

/** Decode the part of a block read that belongs to `key`. */
export function decodeKey(raw: RawRead, offset: number, key: Pick<ReadKey, "count" | "type" | "functionCode" | "config"> & { post?: PostOptions }, byteOrder: Order, wordOrder: Order): unknown {
  const value =
    raw.kind === "bits"
      ? orderBits(raw.bits.slice(offset, offset + key.count), key.count)
      : (decodeNumberAt(raw.regs, offset, key.count, key.type, byteOrder, wordOrder) ??
        decodeRegisters(raw.regs.slice(offset, offset + key.count), key.type, byteOrder, wordOrder));
  // the key's post-processing options, gathered once rather than copied on every poll
  key.post ??= { functionCode: key.functionCode, ...key.config };
  return postProcess(value, key.type, key.post);
}

/**
 * When to poll next. Polls keep to the grid of their first start plus n × period, so a timer that
 * fires late or a slow poll does not shift every later poll (planning "period minus time taken"
 * from a late timer let lateness add up under load). A slot is polled late if it is less than half
 * a period overdue; one overdue by more is skipped, and counted, for the next slot on the grid.
 */
export function nextPoll(due: number, now: number, period: number): { due: number; skipped: number } {
  let next = due + period;
  let skipped = 0;
  while (now - next > period / 2) {
    next += period;
    skipped++;
  }
  return { due: next, skipped };
}

/** A block in error texts, and the key its error is remembered under. */
const blockWhere = (b: ReadBlock): string => `fc ${b.functionCode} address ${b.address} count ${b.count}`;

/** Start slots per poll period (at most per second) that first polls are spread over. */
const START_SLOTS = 5;

/**
 * When to poll first: spread over the period (at most a second) so that many slaves do not fire
 * at the same instant, but in START_SLOTS slots on a shared grid, so slaves in one slot share a
 * timer wake-up and their answers and platform messages come in together. Each wake-up of the
 * process costs ~30 µs of CPU before any work: with every slave at its own random instant, 100
 * slaves at 1 s woke the gateway 200 times a second (a timer and an answer per poll); grouped, the
 * connector's CPU per poll fell by a quarter (commit message has the figures). 10 slots rather
 * than 20 cut the whole gateway's CPU at 100 slaves x 50 registers x 1 s by another quarter
 * (6.5-6.8 -> 4.7-4.8 core-s per million datapoints): each slot's wake-up is followed by its answers,
 * one platform publish and its PUBACK, so fewer, fuller slots mean fewer rounds of all of those.
 * 5 slots took another ~0.8 off in two alternating pairs (10 slots 6.4 / 5.3, 5 slots 5.3 / 4.6),
 * with 300 x 50 x 100 ms (60 slaves per 20 ms slot) still 100 % delivered and on time.
 * Later polls keep to this grid (nextPoll).
 */
export function firstPoll(now: number, period: number): number {
  const spread = Math.min(period, 1000);
  const slot = Math.max(1, Math.floor(spread / START_SLOTS));
  const slots = Math.min(START_SLOTS, Math.max(1, Math.floor(spread / slot)));
  return Math.ceil(now / slot) * slot + Math.floor(Math.random() * slots) * slot;
}

export class PolledSlave {
  blocks: ReadBlock[];
  private timer?: ReturnType<typeof setTimeout>;
  private stopped = true;
  private polling?: Promise<unknown>;
  private failures = 0;
  private lastErrors = new Map<string, string>();
  private registered = false;
  /** Planned start of the next poll (see nextPoll). */
  private due = 0;
  /** Poll slots skipped because the previous poll ran (or the timer fired) too late for them. */
  skipped = 0;
  polls = 0;

  constructor(
    readonly cfg: SlaveConfig,
    readonly link: ModbusLink,
    private readonly ctx: ConnectorContext,
    private readonly log: Logger,
  ) {
    const warn = (m: string) => log.warn(`${cfg.deviceName}: ${m}`);
    const keys = [
      ...cfg.attributes.flatMap((k) => expandKey(k, "attributes", cfg.unitId, warn)),
      ...cfg.timeseries.flatMap((k) => expandKey(k, "timeseries", cfg.unitId, warn)),
    ].filter((k) => {
      if (k.functionCode >= 1 && k.functionCode <= 4) return true;
      warn(`key "${k.tag}" has functionCode ${k.functionCode}, which cannot be polled; ignored`);
      return false;
    });
    this.blocks = mergeReads(keys);
  }

  get name(): string {
    return this.cfg.deviceName;
  }

  start(): void {
    if (this.blocks.length === 0) return; // upstream polls only slaves with attributes/timeseries
    this.stopped = false;
    this.due = firstPoll(Date.now(), this.cfg.pollPeriod);
    this.arm();
  }

  /** A poll is running (e.g. a read waiting for its answer). */
  get pollInFlight(): boolean {
    return this.polling !== undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.pollOnce().finally(() => {
        this.polling = undefined;
        const now = Date.now();
        const next = nextPoll(this.due, now, this.cfg.pollPeriod);
        this.skipped += next.skipped;
        this.due = next.due;
        if (this.failures > 0) {
          // Back off a failing slave so it does not hold the shared link with timeouts.
          const backoff = Math.min(this.cfg.pollPeriod * 2 ** Math.min(this.failures, 10), MAX_BACKOFF_MS);
          this.due = Math.max(this.due, now + backoff * (0.75 + Math.random() * 0.5));
        }
        this.arm();
      });
    }, Math.max(0, this.due - Date.now()));
  }

  /** The user's uplink converter class (`uplinkConverter`), set by the connector at start. */
  custom?: CustomUplink;

  /** Read every block once and hand what decoded to the gateway. */
  async pollOnce(): Promise<ConvertedData | undefined> {
    if (this.custom) return this.pollCustom(this.custom);
    const data: ConvertedData = { deviceName: this.cfg.deviceName, deviceType: this.cfg.deviceType };
    const attributes: Record<string, unknown> = {};
    const values: Record<string, unknown> = {};
    const keyStrategies: Record<string, ReportStrategyConfig> = {};
    let anyOk = false;
    let anyAttribute = false;
    let anyValue = false;
    let anyStrategy = false;
    let ioFailures = 0;
    // each decoded key goes straight into the message (no list of [key, value] pairs per poll)
    const take = (key: ReadKey, value: unknown): void => {
      anyOk = true;
      if (key.section === "attributes") {
        attributes[key.tag] = value;
        anyAttribute = true;
      } else {
        values[key.tag] = value;
        anyValue = true;
      }
      if (key.strategy) {
        keyStrategies[key.tag] = key.strategy;
        anyStrategy = true;
      }
    };
    for (const block of this.blocks) {
      if (this.stopped) return;
      if ((await this.readBlock(block, take)) === "io") {
        ioFailures++;
        if (this.failures > 0) break; // a slave already failing gets one probe per poll
      }
    }
    this.polls++;
    this.failures = ioFailures > 0 && !anyOk ? this.failures + 1 : 0;
    if (anyOk && !this.registered) {
      this.registered = true;
      this.ctx.addDevice(this.cfg.deviceName, this.cfg.deviceType);
    }
    if (anyAttribute) data.attributes = attributes;
    if (anyValue) data.telemetry = [{ values }];
    if (anyStrategy) data.keyStrategies = keyStrategies;
    const deviceStrategy = this.cfg.reportStrategy ?? (this.cfg.sendDataOnlyOnChange ? { type: "ON_CHANGE" as const } : undefined);
    if (deviceStrategy) data.deviceStrategy = deviceStrategy;
    if (!data.attributes && !data.telemetry) return;
    if (!this.stopped) await this.ctx.sendData(data);
    return data;
  }

  /**
   * A poll through the user's class, in upstream's shape: per section and tag the key's config
   * (`data_sent`) and what was read (`input_data`: `{registers}` or `{bits}`, as pymodbus's
   * response carries them). Keys whose read failed are left out (logged as for the built-in).
   */
  private async pollCustom(custom: CustomUplink): Promise<ConvertedData | undefined> {
    const responses: Record<"attributes" | "timeseries", Record<string, { data_sent: unknown; input_data: { registers?: number[]; bits?: boolean[] } }>> = { attributes: {}, timeseries: {} };
    let anyOk = false;
    let ioFailures = 0;
    const take = (key: ReadKey, raw: unknown): void => {
      anyOk = true;
      responses[key.section][key.tag] = { data_sent: key.config, input_data: raw as { registers?: number[]; bits?: boolean[] } };
    };
    for (const block of this.blocks) {
      if (this.stopped) return;
      if ((await this.readBlock(block, take, true)) === "io") {
        ioFailures++;
        if (this.failures > 0) break;
      }
    }
    this.polls++;
    this.failures = ioFailures > 0 && !anyOk ? this.failures + 1 : 0;
    if (!anyOk || this.stopped) return;
    if (!this.registered) {
      this.registered = true;
      this.ctx.addDevice(this.cfg.deviceName, this.cfg.deviceType);
    }
    const out = await custom.convert(this.cfg, responses);
    if (out.length === 0 || this.stopped) return;
    await this.ctx.sendData(out);
    return out[0];
  }

  /** Device went away with its link: tell the platform once. */
  markDisconnected(): void {
    if (!this.registered) return;
    this.registered = false;
    this.ctx.delDevice(this.cfg.deviceName);
  }

  /**
   * Read a block and hand each key's value to `take`; "io" when the read failed on the wire.
   * `raw`: each key's registers or bits undecoded (for a custom converter).
   */
  private async readBlock(block: ReadBlock, take: (key: ReadKey, value: unknown) => void, raw = false): Promise<"io" | undefined> {
    let read: RawRead;
    try {
      read = await readRaw(this.link, this.cfg.unitId, block.functionCode, block.address, block.count);
      // (the text and the map lookup only when some error is on record: this runs every poll)
      if (this.lastErrors.size > 0) this.clearError(blockWhere(block));
    } catch (e) {
      // a read cut short by stop() is not a device error (one per slave in flight on SIGTERM)
      if (this.stopped) return "io";
      if (isModbusException(e) && block.keys.length > 1) return this.readKeysSeparately(block, take, raw);
      const keys = block.keys.map((k) => k.tag).join(", ");
      const where = blockWhere(block);
      this.noteError(where, `${this.cfg.deviceName} (unit ${this.cfg.unitId}) keys [${keys}] ${where}: ${errorText(e)}`);
      return isModbusException(e) ? undefined : "io";
    }
    for (const key of block.keys) {
      const offset = key.address - block.address;
      if (raw) {
        take(key, read.kind === "bits" ? { bits: read.bits.slice(offset, offset + key.count) } : { registers: read.regs.slice(offset, offset + key.count) });
        continue;
      }
      let value: unknown;
      try {
        value = decodeKey(read, offset, key, this.cfg.byteOrder, this.cfg.wordOrder);
      } catch (e) {
        this.noteError(`decode ${key.tag}`, `${this.cfg.deviceName} key ${key.tag} at ${key.address}: cannot decode: ${errorText(e)}`);
        continue;
      }
      take(key, value);
    }
    return undefined;
  }

  /**
   * A merged read hit an exception (e.g. a gap the device does not map): from now on read its keys
   * one by one, which also tells which key is at fault.
   */
  private async readKeysSeparately(block: ReadBlock, take: (key: ReadKey, value: unknown) => void, raw: boolean): Promise<"io" | undefined> {
    const i = this.blocks.indexOf(block);
    if (i >= 0) {
      this.blocks.splice(i, 1, ...block.keys.map((k) => ({ functionCode: k.functionCode, address: k.address, count: k.count, keys: [k] })));
      this.log.warn(`${this.cfg.deviceName}: merged read fc ${block.functionCode} ${block.address}+${block.count} refused; reading its ${block.keys.length} keys separately`);
    }
    for (const key of block.keys) {
      const r = await this.readBlock({ functionCode: key.functionCode, address: key.address, count: key.count, keys: [key] }, take, raw);
      if (r === "io") return "io";
    }
    return undefined;
  }

  private noteError(where: string, text: string): void {
    if (this.lastErrors.get(where) === text) return;
    this.lastErrors.set(where, text);
    this.log.error(text);
  }

  private clearError(where: string): void {
    if (this.lastErrors.delete(where)) this.log.info(`${this.cfg.deviceName}: ${where} reads again`);
  }
}
