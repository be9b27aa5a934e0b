// Uplink conversion (upstream's KNXUplinkConverter): the payloads read from a device's group
// addresses → one ConvertedData. The device name and profile may be expressions whose `${<group
// address>}` parts are replaced by the decoded value of that address. Pure: unit-tested without a bus.

import type { ConvertedData, ReportStrategyConfig } from "../../core/model.ts";
import { groupAddress, type GroupAddress } from "./address.ts";
import { decodeDpt, dptText, NO_TYPE, parseDpt, type Dpt } from "./dpt.ts";
import type { KnxDevice } from "./schema.ts";

const PLACEHOLDER = /\$\{([^}]*)\}/g;

export interface PlannedKey {
  section: "attributes" | "telemetry";
  key: string;
  dpt: Dpt;
  reportStrategy?: ReportStrategyConfig;
}

interface TextPart {
  /** The expression with its placeholders; constant when there are none. */
  template: string;
  /** Placeholder text → address and type to read it with. */
  reads: Map<string, { ga: GroupAddress; dpt: Dpt }>;
}

/** What one device reads each poll and how its answers become data; built once at start. */
export interface DevicePlan {
  /** Every address read per poll, once each however many keys share it. */
  addresses: GroupAddress[];
  /** Address (16-bit) → the keys decoded from it. */
  keys: Map<number, PlannedKey[]>;
  name: TextPart;
  profile: TextPart;
}

function dptOf(name: string | undefined, fallback: string): Dpt {
  const d = parseDpt(name && name !== NO_TYPE ? name : fallback);
  if (typeof d === "string") throw new Error(d);
  return d;
}

function textPart(template: string, isExpression: boolean, typeName: string | undefined): TextPart {
  const reads = new Map<string, { ga: GroupAddress; dpt: Dpt }>();
  if (isExpression) {
    for (const m of template.matchAll(PLACEHOLDER)) reads.set(m[1]!, { ga: groupAddress(m[1]!), dpt: dptOf(typeName, "string") });
  }
  return { template, reads };
}

export function planDevice(d: KnxDevice): DevicePlan {
  const info = d.deviceInfo;
  const name = textPart(info.deviceNameExpression, info.deviceNameExpressionSource === "expression", info.deviceNameDataType);
  const profileText = info.deviceProfileExpressionSource === "expression" ? (info.deviceProfileExpression ?? info.deviceProfileNameExpression) : (info.deviceProfileNameExpression ?? info.deviceProfileExpression);
  const profile = textPart(profileText ?? "default", info.deviceProfileExpressionSource === "expression", info.deviceProfileDataType);
  const keys = new Map<number, PlannedKey[]>();
  const addresses = new Map<number, GroupAddress>();
  const add = (ga: GroupAddress) => addresses.set(ga.raw, ga);
  for (const [section, list] of [["attributes", d.attributes], ["telemetry", d.timeseries]] as const) {
    for (const k of list) {
      const ga = groupAddress(k.groupAddress);
      add(ga);
      const entry: PlannedKey = { section, key: k.key, dpt: dptOf(k.type, k.type) };
      if (k.reportStrategy) entry.reportStrategy = k.reportStrategy as ReportStrategyConfig;
      keys.set(ga.raw, [...(keys.get(ga.raw) ?? []), entry]);
    }
  }
  for (const r of [...name.reads.values(), ...profile.reads.values()]) add(r.ga);
  return { addresses: [...addresses.values()], keys, name, profile };
}

/** Payloads of one poll: address → bytes (absent: no answer). */
export type PollAnswers = Map<number, Buffer>;

export interface Conversion {
  data?: ConvertedData;
  /** Per-key (or "deviceName"/"deviceProfile") problems of this poll: key → text. */
  problems: Map<string, string>;
}

function render(part: TextPart, answers: PollAnswers): string | { missing: string } {
  let missing: string | undefined;
  const text = part.template.replace(PLACEHOLDER, (whole, ga: string) => {
    const r = part.reads.get(ga);
    const bytes = r && answers.get(r.ga.raw);
    if (!r || !bytes) {
      missing ??= ga;
      return whole;
    }
    try {
      const v = decodeDpt(r.dpt, bytes);
      return typeof v === "string" ? v : JSON.stringify(v);
    } catch (e) {
      missing ??= `${ga} (${e instanceof Error ? e.message : String(e)})`;
      return whole;
    }
  });
  return missing === undefined ? text : { missing };
}

/** Decode one poll's answers for a device. No name (its address unanswered) → no data, one problem. */
export function convertPoll(plan: DevicePlan, answers: PollAnswers, ts: number, deviceStrategy?: ReportStrategyConfig): Conversion {
  const problems = new Map<string, string>();
  const name = render(plan.name, answers);
  if (typeof name !== "string") {
    problems.set("deviceName", `device name "${plan.name.template}" not known: no value from ${name.missing}`);
    return { problems };
  }
  if (name.trim() === "") {
    // e.g. a text address answering only NUL bytes: data without a device name would be refused later, unexplained
    problems.set("deviceName", `device name "${plan.name.template}" is empty with the values read; this poll's data is not sent`);
    return { problems };
  }
  const profile = render(plan.profile, answers);
  if (typeof profile !== "string") problems.set("deviceProfile", `device profile "${plan.profile.template}": no value from ${profile.missing}; using "default"`);
  const data = convertValues(plan, answers, ts, problems, name, typeof profile === "string" ? profile : "default", deviceStrategy);
  return { data, problems };
}

/** The keys of `answers` (some or all of a device's addresses) as data of the named device. */
export function convertValues(plan: DevicePlan, answers: PollAnswers, ts: number, problems: Map<string, string>, deviceName: string, deviceType: string, deviceStrategy?: ReportStrategyConfig): ConvertedData {
  const attributes: Record<string, unknown> = {};
  const values: Record<string, unknown> = {};
  const keyStrategies: Record<string, ReportStrategyConfig> = {};
  for (const [address, keys] of plan.keys) {
    const bytes = answers.get(address);
    if (!bytes) continue;
    for (const k of keys) {
      try {
        const v = decodeDpt(k.dpt, bytes);
        (k.section === "attributes" ? attributes : values)[k.key] = v;
        if (k.reportStrategy) keyStrategies[k.key] = k.reportStrategy;
      } catch (e) {
        problems.set(k.key, `key "${k.key}" (${dptText(k.dpt)}): ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  const data: ConvertedData = { deviceName, deviceType };
  if (Object.keys(attributes).length) data.attributes = attributes;
  if (Object.keys(values).length) data.telemetry = [{ ts, values }];
  if (Object.keys(keyStrategies).length) data.keyStrategies = keyStrategies;
  if (deviceStrategy) data.deviceStrategy = deviceStrategy;
  return data;
}

/** What a poll read, in upstream's shape for a custom converter: address → {type, response, keys}. */
export interface CustomPollEntry {
  /** The configured type name (DPT) the response was decoded with. */
  type: string;
  /** The decoded value; null when the address did not answer or its bytes do not decode. */
  response: unknown;
  /** The keys read from this address; "deviceName" / "deviceType" where the name or profile expression uses it. */
  keys: string[];
}

/**
 * A poll's answers for a custom converter (upstream hands its KNX converter the decoded value per
 * group address with its type and keys). An address read with several types is decoded with the
 * first key's type.
 */
export function customPollData(d: KnxDevice, plan: DevicePlan, answers: PollAnswers): Record<string, CustomPollEntry> {
  const out: Record<string, CustomPollEntry> = {};
  const add = (gaText: string, typeName: string, dpt: Dpt, key: string) => {
    const ga = groupAddress(gaText);
    const entry = (out[ga.text] ??= { type: typeName, response: decodeOrNull(dpt, answers.get(ga.raw)), keys: [] });
    entry.keys.push(key);
  };
  for (const k of [...d.attributes, ...d.timeseries]) add(k.groupAddress, k.type, dptOf(k.type, k.type), k.key);
  for (const [tag, part, typeName] of [["deviceName", plan.name, d.deviceInfo.deviceNameDataType], ["deviceType", plan.profile, d.deviceInfo.deviceProfileDataType]] as const)
    for (const [gaText, r] of part.reads) add(gaText, typeName ?? "string", r.dpt, tag);
  return out;
}

function decodeOrNull(dpt: Dpt, bytes: Buffer | undefined): unknown {
  if (!bytes) return null;
  try {
    return decodeDpt(dpt, bytes);
  } catch {
    return null;
  }
}
