// Device-initiated requests (connect, disconnect, attribute requests) and attribute updates from
// the platform published to devices. Spec §2.4.

import { attributeText, compileTemplate, fillPlaceholders, lookupTag, textOf } from "../../common/expressions/index.ts";
import type { ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate } from "../../core/model.ts";
import { errorText } from "../../observe/logger.ts";
import { compileDeviceInfo, type DeviceResolvers } from "./converters/device-info.ts";
import type { DropLog } from "./drop-log.ts";
import type { AttributeRequest, AttributeUpdateRule, MqttConfig } from "./schema.ts";
import { compileFilter, pythonRegex, valueFromTopic } from "./topic.ts";

export type Publish = (topic: string, payload: string, opts: { qos: 0 | 1 | 2; retain: boolean }) => Promise<void>;

interface DeviceHandler {
  filter: string;
  qos: 0 | 1 | 2;
  match: (topic: string) => boolean;
  device: DeviceResolvers;
}

interface AttrRequestHandler extends DeviceHandler {
  cfg: AttributeRequest;
  nameFromTopic: RegExp | undefined;
}

/** Parse a request body: JSON when it parses, else its text (names may come from the topic). */
function parseBody(payload: Buffer): unknown {
  const text = payload.toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class RequestHandlers {
  private readonly connects: DeviceHandler[] = [];
  private readonly disconnects: DeviceHandler[] = [];
  private readonly attrRequests: AttrRequestHandler[] = [];
  private readonly updates: Array<{ rule: AttributeUpdateRule; device: RegExp; attribute: RegExp }> = [];

  constructor(
    cfg: MqttConfig["requestsMapping"],
    private readonly ctx: ConnectorContext,
    private readonly publish: Publish,
    private readonly drops: DropLog,
  ) {
    const compile = (r: { topicFilter: string; subscriptionQos: 0 | 1 | 2; deviceInfo?: unknown }, where: string): DeviceHandler => ({
      filter: r.topicFilter,
      qos: r.subscriptionQos,
      match: compileFilter(r.topicFilter),
      device: compileDeviceInfo(r.deviceInfo as never, false, where),
    });
    const tryAdd = <T>(list: T[], make: () => T, where: string) => {
      try {
        list.push(make());
      } catch (e) {
        ctx.log.error(`${where} skipped: ${errorText(e)}`);
      }
    };
    cfg.connectRequests.forEach((r, i) => tryAdd(this.connects, () => compile(r, `requestsMapping.connectRequests[${i}]`), `connectRequests[${i}]`));
    cfg.disconnectRequests.forEach((r, i) =>
      tryAdd(this.disconnects, () => compile(r, `requestsMapping.disconnectRequests[${i}]`), `disconnectRequests[${i}]`),
    );
    cfg.attributeRequests.forEach((r, i) =>
      tryAdd(
        this.attrRequests,
        () => ({
          ...compile(r, `requestsMapping.attributeRequests[${i}]`),
          cfg: r,
          nameFromTopic: r.attributeNameExpressionSource === "topic" && r.attributeNameExpression ? pythonRegex(r.attributeNameExpression) : undefined,
        }),
        `attributeRequests[${i}]`,
      ),
    );
    cfg.attributeUpdates.forEach((rule, i) =>
      tryAdd(this.updates, () => ({ rule, device: pythonRegex("^(?:" + rule.deviceNameFilter + ")"), attribute: pythonRegex("^(?:" + rule.attributeFilter + ")") }), `attributeUpdates[${i}]`),
    );
  }

  subscriptions(): Array<{ filter: string; qos: 0 | 1 | 2 }> {
    return [...this.connects, ...this.disconnects, ...this.attrRequests].map((h) => ({ filter: h.filter, qos: h.qos }));
  }

  /** Handle a device request if the topic is one; true when some handler took it. */
  handle(topic: string, payload: Buffer): boolean {
    let body: unknown;
    let handled = false;
    const connect = this.connects.find((h) => h.match(topic));
    if (connect) {
      body = parseBody(payload);
      const name = connect.device.name(topic, body);
      if (!name) this.drops.report(topic, `connect request without a device name (${connect.device.nameExpression})`);
      else this.ctx.addDevice(name, connect.device.profile?.(topic, body) || "default");
      handled = true;
    }
    const disconnect = this.disconnects.find((h) => h.match(topic));
    if (disconnect) {
      body ??= parseBody(payload);
      const name = disconnect.device.name(topic, body);
      if (!name) this.drops.report(topic, `disconnect request without a device name (${disconnect.device.nameExpression})`);
      else this.ctx.delDevice(name);
      handled = true;
    }
    for (const h of this.attrRequests) {
      if (!h.match(topic)) continue;
      body ??= parseBody(payload);
      void this.attributeRequest(h, topic, body);
      handled = true;
    }
    return handled;
  }

  private attributeNames(h: AttrRequestHandler, topic: string, body: unknown): string[] {
    const expr = h.cfg.attributeNameExpression ?? "";
    if (h.nameFromTopic) {
      const n = valueFromTopic(h.nameFromTopic, topic);
      return n ? [n] : [];
    }
    const t = compileTemplate(expr);
    if (t.literal) return expr ? [expr] : [];
    const names: string[] = [];
    for (const tag of t.tags) {
      const v = lookupTag(tag, body);
      if (v !== undefined && v !== null) names.push(textOf(v));
    }
    return names;
  }

  private async attributeRequest(h: AttrRequestHandler, topic: string, body: unknown): Promise<void> {
    const device = h.device.name(topic, body);
    if (!device) return this.drops.report(topic, `attribute request without a device name (${h.device.nameExpression})`);
    const names = this.attributeNames(h, topic, body);
    if (names.length === 0) return this.drops.report(topic, `attribute request without attribute names (${h.cfg.attributeNameExpression})`);
    const bodyScope = body && typeof body === "object" ? (body as Record<string, unknown>).scope : undefined;
    const scope = bodyScope === "client" || bodyScope === "shared" ? bodyScope : h.cfg.scope;
    try {
      const values = await this.ctx.requestAttributes(device, names, scope);
      let key: string;
      let payload: string;
      if (names.length === 1) {
        key = names[0]!;
        if (!(key in values)) {
          this.ctx.log.warn(`attribute request from ${device} on ${topic}: ${scope} attribute ${key} not found on the platform`);
          return;
        }
        const vars = { deviceName: device, attributeKey: key, attributeValue: JSON.stringify(values[key]) };
        payload = fillPlaceholders(h.cfg.valueExpression, vars);
      } else {
        key = Object.keys(values).join(",");
        payload = JSON.stringify(values);
      }
      const replyTopic = fillPlaceholders(h.cfg.topicExpression, { deviceName: device, attributeKey: key });
      await this.publish(replyTopic, payload, { qos: h.cfg.qos, retain: h.cfg.retain });
    } catch (e) {
      this.ctx.log.error(`attribute request from ${device} on ${topic} failed: ${errorText(e)}`);
    }
  }

  /** Platform attribute update → one publish per matching rule and key. */
  async onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    const rules = this.updates.filter((u) => u.device.test(update.device));
    if (rules.length === 0) {
      this.ctx.log.debug(`attribute update for ${update.device}: no attributeUpdates rule matches`);
      return;
    }
    for (const { rule, attribute } of rules) {
      for (const [key, value] of Object.entries(update.data)) {
        if (!attribute.test(key)) continue;
        const vars = { deviceName: update.device, attributeKey: key, attributeValue: attributeText(value) };
        const topic = fillPlaceholders(rule.topicExpression, vars);
        const payload = fillPlaceholders(rule.valueExpression, vars);
        try {
          await this.publish(topic, payload, { qos: rule.qos, retain: rule.retain });
        } catch (e) {
          this.ctx.log.error(`attribute update ${key} for ${update.device}: publish to ${topic} failed: ${errorText(e)}`);
        }
      }
    }
  }
}
