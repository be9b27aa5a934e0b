// BACnet/IP connector: a local endpoint on application.host:port, Who-Is discovery matched against
// `devices[]`, periodic ReadPropertyMultiple polling, optional COV subscriptions, and writes with
// priority for attribute updates and RPC. Device errors are logged once per change, never thrown.

import { ObjectType as O, PropertyIdentifier as P } from "@bacnet-js/client";
import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, ConvertedData, RpcRequest } from "../../core/model.ts";
import { isEmptyData } from "../../core/model.ts";
import { errorText } from "../../observe/logger.ts";
import { BUILT_IN_INSTEAD, loadCustomUplink, type CustomUplink } from "../../common/converters/custom-uplink.ts";
import { converterConfig, customConverterName, objectsToRead, readResults, withDeviceStrategy } from "./custom.ts";
import { convertResults, deviceIdentity, matchesIAm, pollRefs, resolveItems, unicastTarget, type ResolvedItem } from "./device.ts";
import { expandObjectIds, maskToPrefix, normaliseSender, objectTypeNumber, propertyNumber, subnetBroadcast, DEFAULT_PORT } from "./names.ts";
import { ForeignDeviceRegistration } from "./foreign-device.ts";
import { localDeviceOf, serveLocalDevice } from "./local-device.ts";
import { planConfigured, planConnectorRpc, planReserved, type RpcPlan } from "./rpc.ts";
import type { BacnetConfig, BacnetDevice } from "./schema.ts";
import { BacnetSession, type CovValue, type IAm, type PropertyResult } from "./session.ts";
import { encodeForWrite, pyRepr, toTbValue } from "./values.ts";

const COV_LIFETIME_S = 300;
const WRITE_TIMEOUT_MS = 5000;

interface LiveDevice {
  cfg: BacnetDevice;
  iAm: IAm;
  name: string;
  type: string;
  items: ResolvedItem[];
  timer?: ReturnType<typeof setTimeout>;
  lastError?: string;
  /** Stopped answering: polling paused, Who-Is sent to it each poll period until it answers. */
  lost?: boolean;
  /** COV process id → object key "type:instance" */
  cov: Map<number, string>;
  covTimer?: ReturnType<typeof setInterval>;
  rescanAt: number;
  /** false once the device rejected ReadPropertyMultiple: single reads from then on. */
  useRpm: boolean;
  /** The user's converter class (`uplinkConverter`), when it names one that could be loaded. */
  custom?: CustomUplink;
}

/** "host/mask:port" or host+mask+port → bind host, port and subnet broadcast. */
export function localEndpoint(app: BacnetConfig["application"]): { host: string; port: number; broadcast: string } {
  let host = app.host ?? "0.0.0.0", port = Number(app.port ?? DEFAULT_PORT), mask: unknown = app.mask;
  if (app.address) {
    const m = /^([^/:]+)(?:\/([^:]+))?(?::(\d+))?$/.exec(app.address.trim());
    if (m) {
      host = m[1]!;
      if (m[2]) mask = m[2];
      if (m[3]) port = Number(m[3]);
    }
  }
  const broadcast = (host !== "0.0.0.0" && subnetBroadcast(host, maskToPrefix(mask))) || "255.255.255.255";
  return { host, port, broadcast: app.broadcastAddress ?? broadcast };
}

export class BacnetConnector implements Connector {
  private session?: BacnetSession;
  private devices = new Map<string, LiveDevice>();
  /** I-Ams being turned into devices (name reads in flight), by address. */
  private pending = new Set<string>();
  private discoverTimer?: ReturnType<typeof setInterval>;
  private stopped = false;
  private nextCovId = 1;
  private foreign?: ForeignDeviceRegistration;
  private stopLocalDevice?: () => void;
  /** Device configs whose converter class failed to load, with the error text: logged once per config. */
  private converterFailures = new Map<BacnetDevice, string>();

  constructor(
    private readonly config: BacnetConfig,
    private readonly ctx: ConnectorContext,
    /** singleReads: never try ReadPropertyMultiple (benches; devices known not to support it). */
    private readonly opts: { singleReads?: boolean } = {},
  ) {}

  async start(): Promise<void> {
    const ep = localEndpoint(this.config.application);
    if (this.config.edeFilePath || this.config.edeConfig) this.ctx.log.warn("EDE device lists are not supported yet; edeFilePath/edeConfig ignored");
    this.session = new BacnetSession(ep.host, ep.port, ep.broadcast);
    await this.session.open();
    this.ctx.log.info(`BACnet/IP endpoint on ${ep.host}:${ep.port} (broadcast ${ep.broadcast}), ${this.config.devices.length} device config(s)`);
    this.session.onIAm((i) => void this.onIAm(i));
    this.session.onCov((c) => void this.onCov(c));
    const local = localDeviceOf(this.config.application, this.ctx.log);
    this.stopLocalDevice = serveLocalDevice(this.session, local, () => (this.foreign?.registered ? this.foreign.bbmd : undefined));
    this.ctx.log.info(`local device ${local.instance} "${local.name}" answers Who-Is (max APDU ${local.maxApdu}, segmentation ${this.config.application.segmentationSupported}, vendor ${local.vendorId})`);
    const fd = this.config.foreignDevice;
    if (fd && fd.address.trim() && !fd.address.startsWith("0.0.0.0")) {
      // Discover once registered (Who-Is then reaches the BBMD's network); the local broadcast below
      // covers devices on our own subnet meanwhile.
      this.foreign = new ForeignDeviceRegistration(this.session, fd.address, fd.ttl, this.ctx.log, () => this.discover());
      this.foreign.start();
    }
    this.discover();
    const period = (this.config.application.devicesDiscoverPeriodSeconds ?? this.config.devicesDiscoverPeriodSeconds) * 1000;
    this.discoverTimer = setInterval(() => this.discover(), period);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.discoverTimer);
    this.foreign?.stop();
    this.stopLocalDevice?.();
    for (const d of this.devices.values()) {
      clearTimeout(d.timer);
      clearInterval(d.covTimer);
    }
    // Best effort: tell devices to stop sending COV notifications.
    const cancels: Promise<unknown>[] = [];
    for (const d of this.devices.values())
      for (const [pid, key] of d.cov) {
        const [t, i] = key.split(":").map(Number) as [number, number];
        cancels.push(this.session!.subscribeCov(d.iAm.address, t, i, pid, 0, true).catch(() => {}));
      }
    await Promise.race([Promise.all(cancels), new Promise((r) => setTimeout(r, 1000))]);
    this.session?.close();
    this.devices.clear();
  }

  /** Who-Is: unicast to configured concrete addresses, one broadcast for the rest. */
  private discover(): void {
    if (this.stopped || !this.session) return;
    let broadcast = false;
    for (const cfg of this.config.devices) {
      const id = typeof cfg.deviceId === "number" ? cfg.deviceId : undefined;
      const target = unicastTarget(cfg);
      try {
        if (target) this.session.whoIs(target, id, id);
        else broadcast = true;
      } catch (e) {
        this.ctx.log.warn(`Who-Is to ${target} failed: ${errorText(e)}`);
      }
    }
    if (broadcast)
      try {
        if (this.foreign?.registered) this.session.whoIsThroughBbmd(this.foreign.bbmd);
        else this.session.whoIs();
      } catch (e) {
        this.ctx.log.warn(`Who-Is broadcast failed: ${errorText(e)}`);
      }
  }

  private async onIAm(i: IAm): Promise<void> {
    if (this.stopped || this.pending.has(i.address)) return;
    const known = [...this.devices.values()].find((d) => d.iAm.deviceId === i.deviceId && matchesIAm(d.cfg, i));
    if (known) return known.lost || known.iAm.address !== i.address ? this.revive(known, i) : undefined;
    const cfg = this.config.devices.find((c) => matchesIAm(c, i));
    if (!cfg) return this.ctx.log.debug(`I-Am from device ${i.deviceId} at ${i.address} matches no configured device`);
    this.pending.add(i.address);
    try {
      const details: Record<string, unknown> = { objectId: i.deviceId, address: i.address, vendorId: i.vendorId };
      const needs = `${cfg.deviceInfo.deviceNameExpression} ${cfg.deviceInfo.deviceProfileExpression}`;
      if (needs.includes("${objectName}")) {
        const v = await this.session!.readProperty(i.address, { objectType: O.DEVICE, instance: i.deviceId, propertyId: P.OBJECT_NAME });
        details.objectName = String(v[0]?.value ?? "");
      }
      const { name, type } = deviceIdentity(cfg, details);
      if (this.stopped) return;
      const d: LiveDevice = { cfg, iAm: i, name, type, items: [], cov: new Map(), rescanAt: 0, useRpm: !this.opts.singleReads };
      await this.refreshItems(d);
      d.custom = await this.loadConverter(d, { objectId: i.deviceId, address: i.address, vendorId: i.vendorId, maxApdu: i.maxApdu, segmentation: i.segmentation, ...(details.objectName !== undefined ? { objectName: String(details.objectName) } : {}) });
      if (this.stopped) return;
      this.devices.set(name, d);
      this.ctx.log.info(`device ${i.deviceId} at ${i.address} is "${name}" (${d.items.length} object item(s))`);
      this.ctx.addDevice(name, type);
      void this.poll(d);
      if (cfg.subscribeCov) void this.subscribeCov(d);
    } catch (e) {
      this.ctx.log.warn(`device ${i.deviceId} at ${i.address}: cannot set up (${errorText(e)}); will retry on the next I-Am`);
    } finally {
      this.pending.delete(i.address);
    }
  }

  /**
   * The user's class for this device (built per device, as upstream does: its config carries the
   * device's name). A class that cannot be loaded is one error per device config, and the device's
   * data goes through the built-in conversion instead (its config carries the built-in mapping, so
   * nothing is lost; a migrated config may still name upstream's Python class).
   */
  private async loadConverter(d: LiveDevice, details: Parameters<typeof converterConfig>[2]): Promise<CustomUplink | undefined> {
    const extension = customConverterName(d.cfg);
    if (!extension) return undefined;
    try {
      const custom = await loadCustomUplink({ extension, connectorType: "bacnet", configDir: this.ctx.configDir, ctorConfig: converterConfig(d.cfg, d, details), log: this.ctx.log, where: d.name });
      this.converterFailures.delete(d.cfg);
      return custom;
    } catch (e) {
      const text = errorText(e);
      if (this.converterFailures.get(d.cfg) !== text) this.ctx.log.error(`${d.name}: uplinkConverter ${extension} cannot be used (${text}); ${BUILT_IN_INSTEAD}`);
      this.converterFailures.set(d.cfg, text);
      return undefined;
    }
  }

  /** Poll or COV results → what goes to storage: through the user's class when there is one. */
  private async convert(d: LiveDevice, items: ResolvedItem[], results: PropertyResult[], onError: (what: string, e: Error) => void): Promise<ConvertedData[]> {
    if (!d.custom) return [convertResults(items, results, d, onError)];
    return d.custom.convert(objectsToRead(items), readResults(results), { device: { deviceName: d.name, deviceType: d.type } });
  }

  /** Resolves items; reads the object list only when a "*" asks for it (re-read every rescan period). */
  private async refreshItems(d: LiveDevice): Promise<void> {
    const listed = [d.cfg.attributes, d.cfg.timeseries].flatMap((x) => (x === "*" ? [] : x));
    const wants = d.cfg.attributes === "*" || d.cfg.timeseries === "*" || listed.some((it) => it.objectId === "*");
    const list = wants ? await this.session!.objectList(d.iAm.address, d.iAm.deviceId) : undefined;
    d.items = resolveItems(d.cfg, d.iAm.deviceId, list, this.ctx.log);
    d.rescanAt = wants ? Date.now() + this.config.application.devicesRescanObjectsPeriodSeconds * 1000 : Infinity;
  }

  /** A lost device answered Who-Is again (maybe restarted, maybe at a new address): set it up afresh. */
  private revive(d: LiveDevice, i: IAm): void {
    const moved = d.iAm.address !== i.address ? ` (was ${d.iAm.address})` : "";
    if (!d.lost) {
      // Still polled: the running poll loop picks up the new address.
      this.ctx.log.info(`${d.name}: device ${i.deviceId} moved to ${i.address}${moved}`);
      d.iAm = i;
      return;
    }
    this.ctx.log.info(`${d.name}: device ${i.deviceId} is back at ${i.address}${moved}; polling again`);
    clearTimeout(d.timer);
    clearInterval(d.covTimer);
    d.iAm = i;
    d.lost = false;
    d.lastError = undefined;
    d.rescanAt = 0; // its object list may have changed
    d.useRpm = !this.opts.singleReads;
    d.cov.clear(); // a restarted device has forgotten our subscriptions
    void this.poll(d);
    if (d.cfg.subscribeCov) void this.subscribeCov(d);
  }

  /** Marks a device lost after a poll timed out; Who-Is then replaces polling until it answers. */
  private markLost(d: LiveDevice, why: string): void {
    d.lost = true;
    clearInterval(d.covTimer);
    this.ctx.log.warn(`${d.name}: device ${d.iAm.deviceId} at ${d.iAm.address} is not answering (${why}); polling paused until it answers Who-Is again`);
    const ask = () => {
      if (this.stopped || !d.lost) return;
      try {
        this.session!.whoIs(d.iAm.address, d.iAm.deviceId, d.iAm.deviceId);
        if (this.foreign?.registered) this.session!.whoIsThroughBbmd(this.foreign.bbmd, d.iAm.deviceId, d.iAm.deviceId);
      } catch {}
      d.timer = setTimeout(ask, d.cfg.pollPeriod);
    };
    ask();
  }

  private async poll(d: LiveDevice): Promise<void> {
    if (this.stopped || d.lost) return;
    try {
      if (Date.now() >= d.rescanAt) await this.refreshItems(d);
      const refs = pollRefs(d.items);
      if (refs.length) {
        const { results, rpm } = await this.session!.readMany(d.iAm.address, refs, d.iAm.maxApdu, d.useRpm);
        if (d.useRpm && !rpm) this.ctx.log.info(`${d.name}: device rejects ReadPropertyMultiple; using ReadProperty`);
        d.useRpm = rpm;
        if (d.lastError) this.ctx.log.info(`${d.name}: polling works again`);
        d.lastError = undefined;
        await this.send(await this.convert(d, d.items, results, (what, e) => this.ctx.log.debug(`${d.name}: ${what}: ${errorText(e)}`)), d);
      }
    } catch (e) {
      const msg = errorText(e);
      if (/ERR_TIMEOUT/.test(msg)) return this.markLost(d, msg);
      if (msg !== d.lastError) this.ctx.log.error(`${d.name}: poll of ${d.iAm.address} failed: ${msg}`);
      d.lastError = msg;
    }
    if (!this.stopped) d.timer = setTimeout(() => void this.poll(d), d.cfg.pollPeriod);
  }

  private async send(data: ConvertedData[], d: LiveDevice): Promise<void> {
    const out = withDeviceStrategy(data.filter((x) => !isEmptyData(x)), d.cfg);
    if (this.stopped || out.length === 0) return;
    await this.ctx.sendData(out.length === 1 ? out[0]! : out);
  }

  private async subscribeCov(d: LiveDevice): Promise<void> {
    const objects = new Map<string, ResolvedItem>();
    for (const it of d.items) if (it.objectType !== O.DEVICE) objects.set(`${it.objectType}:${it.instance}`, it);
    const renew = async () => {
      for (const [key, it] of objects) {
        let pid = [...d.cov].find(([, k]) => k === key)?.[0];
        if (pid === undefined) pid = this.nextCovId++;
        try {
          await this.session!.subscribeCov(d.iAm.address, it.objectType, it.instance, pid, COV_LIFETIME_S);
          d.cov.set(pid, key);
        } catch (e) {
          this.ctx.log.debug(`${d.name}: SubscribeCOV ${key} refused (${errorText(e)}); polling only`);
          objects.delete(key);
        }
      }
    };
    await renew();
    if (!this.stopped) d.covTimer = setInterval(() => void renew(), (COV_LIFETIME_S / 2) * 1000);
  }

  private async onCov(c: CovValue): Promise<void> {
    const d = [...this.devices.values()].find((x) => x.iAm.deviceId === c.deviceId && x.cov.has(c.subscriberProcessId));
    if (!d || this.stopped) return;
    const items = d.items.filter((it) => it.objectType === c.objectType && it.instance === c.instance);
    const results = c.values.map((v) => ({ objectType: c.objectType, instance: c.instance, propertyId: v.propertyId, values: v.values }));
    // Only items whose properties all arrived; the next poll covers the rest.
    const complete = items.filter((it) => it.properties !== "*" && it.properties.every((p) => results.some((r) => r.propertyId === p)));
    if (complete.length === 0) return;
    await this.send(await this.convert(d, complete, results, () => {}), d);
  }

  async onAttributeUpdate(u: AttributeUpdate): Promise<void> {
    const d = this.devices.get(u.device);
    if (!d) return this.ctx.log.error(`attribute update for unknown device "${u.device}"`);
    await Promise.all(
      Object.entries(u.data).map(async ([key, value]) => {
        const items = d.cfg.attributeUpdates.filter((a) => a.key === key);
        if (!items.length) return this.ctx.log.error(`${d.name}: no attributeUpdates mapping for "${key}"`);
        for (const item of items) {
          const type = objectTypeNumber(item.objectType);
          const ids = expandObjectIds(item.objectId);
          const prop = propertyNumber(Array.isArray(item.propertyId) ? item.propertyId[0]! : item.propertyId);
          if (type === undefined || !Array.isArray(ids) || prop === undefined) {
            this.ctx.log.error(`${d.name}: attributeUpdates "${key}" has an invalid objectType/objectId/propertyId; skipped`);
            continue;
          }
          for (const instance of ids) {
            try {
              await this.execute(d, { kind: "write", objectType: type, instance, propertyId: prop, priority: item.priority, value, timeoutMs: WRITE_TIMEOUT_MS });
              this.ctx.log.info(`${d.name}: wrote ${key} → ${item.objectType}:${instance}`);
            } catch (e) {
              this.ctx.log.error(`${d.name}: write of ${key} to ${item.objectType}:${instance} failed: ${errorText(e)}`);
            }
          }
        }
      }),
    );
  }

  async onRpc(r: RpcRequest): Promise<unknown> {
    if (!r.device) return this.connectorRpc(r);
    const d = this.devices.get(r.device);
    if (!d) return { result: { error: "Device not found" } };
    const method = r.method.trim();
    let planned;
    if (method === "get" || method === "set") planned = planReserved(method, r.params);
    else {
      const item = d.cfg.serverSideRpc.find((x) => x.method === method);
      if (!item) return { result: { error: `Neither of configured device rpc methods match with ${method}` } };
      planned = planConfigured(item, r.params);
    }
    if ("error" in planned) return { result: { error: planned.error } };
    const timeoutMs = planned.plan.timeoutMs ?? (r.timeoutSeconds ?? 10) * 1000;
    try {
      const value = await this.execute(d, { ...planned.plan, timeoutMs });
      return { result: pyRepr({ value }) };
    } catch (e) {
      if (e instanceof RpcTimeout) return { error: `Timeout rpc has been reached for ${d.name}` };
      return { result: pyRepr({ error: errorText(e) }) };
    }
  }

  /** `bacnet_get` / `bacnet_set` sent to the gateway: one read or write on any address. */
  private async connectorRpc(r: RpcRequest): Promise<unknown> {
    const planned = planConnectorRpc(r.method, r.params);
    if (!planned) return undefined; // not ours: another connector of this type may answer
    if ("error" in planned) return { error: planned.error };
    let address = planned.address ? normaliseSender(planned.address) : undefined;
    if (!address) {
      const d = this.devices.get(planned.device!);
      if (!d) return { error: `${r.method}: device "${planned.device}" is not discovered by connector ${this.ctx.name}` };
      address = d.iAm.address;
    }
    try {
      const value = await this.executeAt(address, { ...planned.plan, timeoutMs: (r.timeoutSeconds ?? 10) * 1000 });
      return { result: { value }, address };
    } catch (e) {
      return { error: e instanceof RpcTimeout ? `Timeout rpc has been reached for ${address}` : errorText(e), address };
    }
  }

  /** Runs a read or write; resolves to the read value (converted) or the written value. */
  private execute(d: LiveDevice, plan: RpcPlan): Promise<unknown> {
    return this.executeAt(d.iAm.address, plan);
  }

  private async executeAt(address: string, plan: RpcPlan): Promise<unknown> {
    const ref = { objectType: plan.objectType, instance: plan.instance, propertyId: plan.propertyId };
    const work = async () => {
      if (plan.kind === "read") return toTbValue(await this.session!.readProperty(address, ref), plan.objectType, plan.propertyId);
      const tagged = encodeForWrite(plan.value, plan.objectType, plan.propertyId);
      await this.session!.writeProperty(address, ref, tagged, plan.priority);
      return tagged.value;
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([work(), new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new RpcTimeout()), plan.timeoutMs ?? WRITE_TIMEOUT_MS)))]);
    } finally {
      clearTimeout(timer);
    }
  }
}

class RpcTimeout extends Error {
  constructor() {
    super("timeout");
  }
}
