// The OPC-UA connector: a supervisor loop owns one client at a time. Each session discovers the
// devices, subscribes (or polls), periodically re-scans and repairs missing nodes; when the
// connection is lost, devices are removed from the platform and everything is rebuilt after an
// exponential back-off (spec §1), so a restarted server is picked up without restarting the gateway.

import { AttributeIds, type ClientSession, type OPCUAClient } from "node-opcua-client";
import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, ConvertedData, RpcReply, RpcRequest } from "../../core/model.ts";
import { convertSamples, isGone, pollOnce, SubscriptionSet, type SampleConverter } from "./acquisition.ts";
import { BUILT_IN_INSTEAD, loadCustomUplink, type CustomUplink } from "../../common/converters/custom-uplink.ts";
import { converterConfig, customConverterName, nodeConfig, plainDataValue, withDeviceStrategy, type NodeConfig, type PlainDataValue } from "./custom.ts";
import { Browser } from "./browse.ts";
import { createClient, openSession, trustRefusal, verifyServerTrust } from "./client.ts";
import { discoverDevices, resolveKeys, type Device } from "./devices.ts";
import * as downlink from "./downlink.ts";
import type { OpcuaConfig, OpcuaMapping } from "./schema.ts";
import { exactReply } from "./values.ts";
import { errorText } from "../../observe/logger.ts";

const MAX_NODES_PER_READ = "i=11705";

export class OpcuaConnector implements Connector {
  private stopped = false;
  private supervisor: Promise<void> | undefined;
  private link: downlink.Link | undefined;
  private wakeUp: (() => void) | undefined;
  private lastError = "";
  private readonly log;
  /** Loaded converter instances by mapping index and device name: kept across reconnects (their error state too). */
  private readonly converters = new Map<string, CustomUplink>();
  /** Mappings whose converter class failed to load, with the error text: logged once per mapping and text. */
  private readonly converterFailures = new Map<OpcuaMapping, string>();

  constructor(
    private readonly config: OpcuaConfig,
    private readonly ctx: ConnectorContext,
  ) {
    this.log = ctx.log;
  }

  async start(): Promise<void> {
    this.supervisor ??= this.supervise();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.supervisor;
  }

  /** Devices of the current session (for tests and the status view). */
  devices(): Device[] {
    return this.link?.devices ?? [];
  }

  async onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    if (!this.link) return this.log.warn(`attribute update for "${update.device}" dropped: not connected to ${this.config.server.url}`);
    await downlink.onAttributeUpdate(this.link, update);
  }

  async onRpc(request: RpcRequest): Promise<RpcReply | undefined> {
    if (!this.link) return request.device ? { result: { error: `not connected to ${this.config.server.url}` } } : { error: `not connected to ${this.config.server.url}` };
    return exactReply(await downlink.onRpc(this.link, request, this.ctx.type || "opcua"));
  }

  private async emit(data: ConvertedData[]): Promise<void> {
    if (this.stopped || data.length === 0) return;
    try {
      await this.ctx.sendData(data);
    } catch (e) {
      this.log.error(`sending data failed: ${errorText(e)}`);
    }
  }

  /**
   * The user's class for each device whose mapping names one (built per device, as upstream: its
   * config carries the device's name). A class that cannot be loaded is one error per mapping, and
   * those devices' data goes through the built-in conversion (the mapping carries the built-in
   * keys, so nothing is lost; a migrated config may still name upstream's Python class).
   */
  private async attachConverters(devices: Device[]): Promise<void> {
    for (const d of devices) {
      const extension = customConverterName(d.mapping);
      if (!extension || d.custom) continue;
      const id = `${this.config.mapping.indexOf(d.mapping)}\0${d.name}`;
      const known = this.converters.get(id);
      if (known) {
        d.custom = known;
        continue;
      }
      try {
        d.custom = await loadCustomUplink({ extension, connectorType: "opcua", configDir: this.ctx.configDir, ctorConfig: converterConfig(d), log: this.log, where: `device "${d.name}"` });
        this.converters.set(id, d.custom);
        this.converterFailures.delete(d.mapping);
      } catch (e) {
        const text = errorText(e);
        if (this.converterFailures.get(d.mapping) !== text) this.log.error(`device "${d.name}" (mapping "${d.mapping.deviceNodePattern}"): converter ${extension} cannot be used (${text}); ${BUILT_IN_INSTEAD}`);
        this.converterFailures.set(d.mapping, text);
      }
    }
  }

  /** Samples → storage: devices with a class through it (one call per device and batch), the others built in. */
  private readonly convert: SampleConverter = async (samples) => {
    const out = convertSamples(samples.filter((s) => !s.device.custom));
    const custom = new Map<Device, { configs: NodeConfig[]; values: PlainDataValue[] }>();
    for (const s of samples) {
      // Constant keys have no node: upstream never hands them to its converter either.
      if (!s.device.custom || !s.dv) continue;
      let batch = custom.get(s.device);
      if (!batch) custom.set(s.device, (batch = { configs: [], values: [] }));
      batch.configs.push(nodeConfig(s.key));
      batch.values.push(plainDataValue(s.dv));
    }
    for (const [d, { configs, values }] of custom) {
      const data = await d.custom!.convert(configs, values, { device: { deviceName: d.name, deviceType: d.type } });
      out.push(...withDeviceStrategy(data, d.mapping));
    }
    return out;
  };

  private reportError(what: string, e: unknown): void {
    const text = `${what}: ${errorText(e)}`;
    if (text !== this.lastError) this.log.error(text);
    this.lastError = text;
  }

  /** Sleep that `stop()` or a lost connection can cut short. */
  private sleep(ms: number, lost?: Promise<void>): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeUp = done;
      lost?.then(done);
    });
  }

  private async supervise(): Promise<void> {
    const s = this.config.server;
    let attempt = 0;
    while (!this.stopped) {
      const connected = await this.runSession().then(
        (ok) => ok,
        (e) => (this.reportError(`OPC-UA server ${s.url}`, e), false),
      );
      if (connected) attempt = 0;
      if (this.stopped) break;
      // Back-off grows for reconnectRetriesCount steps, then stays; capped at 0.8 × session timeout.
      const step = Math.min(attempt++, s.reconnectRetriesCount);
      const delay = Math.min(s.reconnectBackoffInitialDelay * 1000 * s.reconnectBackoffFactor ** step, 0.8 * s.sessionTimeoutInMillis);
      await this.sleep(delay);
    }
  }

  /** One client lifetime. Resolves true when it had connected (and then lost or stopped). */
  private async runSession(): Promise<boolean> {
    const s = this.config.server;
    const { client, plan } = await createClient({ server: s, configDir: this.ctx.configDir, dataDir: this.ctx.dataDir, applicationName: `tb-gw ${this.ctx.name}` });
    let session: ClientSession | undefined;
    let subs: SubscriptionSet | undefined;
    let devices: Device[] = [];
    let markLost!: () => void;
    const lost = new Promise<void>((r) => (markLost = r));
    for (const ev of ["connection_lost", "close", "backoff"]) client.on(ev as "close", () => markLost());
    try {
      await withTimeout(client.connect(s.url), s.timeoutInMillis * 2, `connect to ${s.url}`).catch((e) => {
        // node-opcua words a refused certificate vaguely; report our reason instead.
        throw trustRefusal(plan) ? new Error(trustRefusal(plan)) : e;
      });
      await verifyServerTrust(client, plan, s.url);
      session = await withTimeout(openSession(client, plan), s.timeoutInMillis * 2, "create session");
      session.on("keepalive_failure", () => markLost());
      session.on("session_closed", () => markLost());
      if (this.stopped) return true;
      this.lastError = "";
      this.log.info(`connected to ${s.url} (${plan.securityPolicy.split("#")[1] ?? "None"}, mode ${plan.securityMode})`);
      const maxPerRead = await readMaxPerRead(session);
      const browser = new Browser(session);
      devices = await discoverDevices(browser, session, this.config.mapping, this.log);
      await this.attachConverters(devices);
      this.link = { session, browser, devices, log: this.log };
      for (const d of devices) this.ctx.addDevice(d.name, d.type);
      const pollDevices = new Set<Device>(s.enableSubscriptions ? [] : devices);
      if (s.enableSubscriptions) {
        subs = new SubscriptionSet(session, s, (data) => void this.emit(data), this.log, this.convert);
        for (const d of devices) await this.subscribeOrPoll(subs, d, d.keys, pollDevices);
        // Constant keys never change: send them once.
        await this.emit(await pollOnce(session, devices.map((d) => ({ ...d, keys: d.keys.filter((k) => k.constant !== undefined) })), maxPerRead, this.log, this.convert));
      }
      let nextPoll = 0;
      let nextScan = Date.now() + s.scanPeriodInMillis;
      let lostFlag = false;
      lost.then(() => (lostFlag = true));
      while (!this.stopped && !lostFlag) {
        const now = Date.now();
        if (now >= nextPoll) {
          nextPoll = now + s.pollPeriodInMillis;
          if (pollDevices.size > 0) await this.emit(await pollOnce(session, [...pollDevices], maxPerRead, this.log, this.convert));
          await this.repair(browser, session, devices, subs, pollDevices);
        }
        if (now >= nextScan) {
          nextScan = now + s.scanPeriodInMillis;
          await this.rescan(browser, session, devices, subs, pollDevices);
        }
        await this.sleep(Math.max(10, Math.min(nextPoll, nextScan) - Date.now()), lost);
      }
      if (!this.stopped) this.log.warn(`connection to ${s.url} lost; reconnecting`);
      return true;
    } finally {
      this.link = undefined;
      await subs?.close().catch(() => undefined);
      if (session) await session.close(false).catch(() => undefined);
      await client.disconnect().catch(() => undefined);
      // Devices are rediscovered on the next session (their names may come from node values).
      if (!this.stopped) for (const d of devices) this.ctx.delDevice(d.name);
    }
  }

  private async subscribeOrPoll(subs: SubscriptionSet, d: Device, keys: Device["keys"], pollDevices: Set<Device>): Promise<void> {
    if (pollDevices.has(d)) return;
    try {
      await subs.monitor(d, keys);
    } catch (e) {
      // Subscription impossible (server limits, no subscription support): poll this device instead.
      this.log.warn(`device "${d.name}": subscription failed (${errorText(e)}); polling every ${this.config.server.pollPeriodInMillis} ms instead`);
      pollDevices.add(d);
    }
  }

  /** Keys that were gone: re-resolve paths, re-read node ids, and re-monitor what came back. */
  private async repair(browser: Browser, session: ClientSession, devices: Device[], subs: SubscriptionSet | undefined, pollDevices: Set<Device>): Promise<void> {
    const missing = devices.flatMap((d) => d.keys.filter((k) => k.missing).map((k) => ({ d, k })));
    if (missing.length === 0) return;
    browser.clear();
    try {
      for (const d of new Set(missing.map((m) => m.d))) {
        const back = await resolveKeys(browser, d, this.log);
        for (const k of d.keys.filter((x) => x.missing && x.nodeId)) {
          const dv = await session.read({ nodeId: k.nodeId!, attributeId: AttributeIds.Value });
          if (isGone(dv)) continue;
          this.log.info(`device "${d.name}": node ${k.nodeId!.toString()} for key "${k.key}" is back`);
          k.missing = false;
          back.push(k);
        }
        if (subs && back.length > 0) await this.subscribeOrPoll(subs, d, back, pollDevices);
      }
    } catch (e) {
      this.reportError("repairing missing nodes", e);
    }
  }

  /** Periodic re-browse: devices that appeared since the last scan are added. */
  private async rescan(browser: Browser, session: ClientSession, devices: Device[], subs: SubscriptionSet | undefined, pollDevices: Set<Device>): Promise<void> {
    browser.clear();
    try {
      const found = await discoverDevices(browser, session, this.config.mapping, this.log);
      await this.attachConverters(found.filter((d) => !devices.some((x) => x.name === d.name)));
      for (const d of found) {
        if (devices.some((x) => x.name === d.name)) continue;
        devices.push(d);
        this.ctx.addDevice(d.name, d.type);
        if (subs) await this.subscribeOrPoll(subs, d, d.keys, pollDevices);
        else pollDevices.add(d);
      }
    } catch (e) {
      this.reportError("re-scan", e);
    }
  }
}

async function readMaxPerRead(session: ClientSession): Promise<number> {
  try {
    const dv = await session.read({ nodeId: MAX_NODES_PER_READ, attributeId: AttributeIds.Value });
    const n = Number(dv.value?.value);
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}

export type { OPCUAClient };
