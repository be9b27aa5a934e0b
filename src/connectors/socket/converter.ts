// Upstream's BytesSocketUplinkConverter and device matching, pure: which device rules a frame from
// `ip:port` belongs to, whether it is an attribute request, and the ConvertedData it gives.
// Values are always text (no type conversion), as upstream.

import { compileSlices, sliceBytes, type Slices } from "../../common/expressions/index.ts";
import type { ConvertedData, ReportStrategyConfig } from "../../core/model.ts";
import { decodeSlice, type Encoding } from "./codec.ts";
import type { AttributeRequest, ByteKey, SocketDevice } from "./schema.ts";

type Part = Slices["parts"][number];

export const hasWildcard = (address: string): boolean => address.includes("*");

/**
 * Upstream's address filter: `*` becomes `.*`, and the peer `ip:port` must equal the result or
 * match it whole as a regular expression (so `*:*`, `10.0.0.5:*`, and plain `ip:port` work).
 */
export function addressMatcher(filter: string): (peer: string) => boolean {
  const pattern = filter.replaceAll("*", ".*");
  let re: RegExp | undefined;
  try {
    re = new RegExp(`^(?:${pattern})$`);
  } catch {
    re = undefined;
  }
  return (peer) => peer === pattern || (re !== undefined && re.test(peer));
}

interface CompiledKey {
  key: string;
  part: Part;
  strategy?: ReportStrategyConfig;
}

/** byteFrom/byteTo as a Python slice; byteTo -1 means "to the end" (upstream), not "all but the last". */
function keyPart(k: ByteKey): Part {
  return { from: k.byteFrom, to: k.byteTo === -1 ? undefined : k.byteTo, single: false };
}

function compileKeys(keys: ByteKey[]): CompiledKey[] {
  return keys.map((k) => ({ key: k.key, part: keyPart(k), strategy: k.reportStrategy as ReportStrategyConfig | undefined }));
}

export interface CompiledRequest {
  scope: "shared" | "client";
  /** Frame test: the slice decoded as UTF-8 equals `equals`; no slice = the whole frame does. */
  slice?: Part;
  equals: string;
  /** One attribute name per slice of the frame; `literal` when the expression has no slice. */
  names: Part[];
  literal?: string;
}

/**
 * `${[0:3]==atr}` → slice [0:3] must read "atr". Upstream takes the first slice in the expression
 * and the text after the last `==` without its closing brace. An expression without `${...}` is the
 * text the whole frame must equal (upstream accepts it but then fails on every frame).
 */
export function compileRequest(r: AttributeRequest): CompiledRequest | string {
  const e = r.requestExpression;
  const names = compileSlices(r.attributeNameExpression);
  const base = { scope: r.type, names: names.parts, literal: names.parts.length === 0 && r.attributeNameExpression !== "" ? r.attributeNameExpression : undefined };
  if (!(e.includes("${") && e.includes("}"))) return { ...base, equals: e };
  const eq = e.lastIndexOf("==");
  const slice = compileSlices(eq > 0 ? e.slice(0, eq) : e).parts[0];
  if (eq < 0 || !slice) return `requestExpression "${e}": expected \${[from:to]==text}, e.g. \${[0:3]==atr}`;
  const equals = e.slice(eq + 2).replace(/}$/, "");
  return { ...base, slice, equals };
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function utf8(b: Uint8Array): string | undefined {
  try {
    return UTF8.decode(b);
  } catch {
    return undefined;
  }
}

/** Does `frame` match the request? Then the attribute names it asks for (maybe none). */
export function requestedNames(r: CompiledRequest, frame: Buffer): string[] | undefined {
  const probe = r.slice ? sliceBytes(frame, r.slice) : frame;
  if (utf8(probe) !== r.equals) return undefined;
  if (r.literal !== undefined) return [r.literal];
  const out: string[] = [];
  for (const p of r.names) {
    const name = utf8(sliceBytes(frame, p));
    if (name) out.push(name);
  }
  return out;
}

/** One configured device, ready to match and convert frames. */
export interface DeviceRule {
  config: SocketDevice;
  matches: (peer: string) => boolean;
  telemetry: CompiledKey[];
  attributes: CompiledKey[];
  requests: CompiledRequest[];
}

/** Compile a device; bad attribute request expressions are returned as problems and left out. */
export function compileDevice(config: SocketDevice): { rule: DeviceRule; problems: string[] } {
  const problems: string[] = [];
  const requests: CompiledRequest[] = [];
  for (const r of config.attributeRequests) {
    const c = compileRequest(r);
    if (typeof c === "string") problems.push(c);
    else requests.push(c);
  }
  return {
    rule: { config, matches: addressMatcher(config.address), telemetry: compileKeys(config.telemetry), attributes: compileKeys(config.attributes), requests },
    problems,
  };
}

/** The device's data in one frame (upstream: every telemetry then attribute slice, values as text). */
export function convertFrame(rule: DeviceRule, frame: Buffer, receivedTs: number): ConvertedData | undefined {
  const enc: Encoding = rule.config.encoding;
  let keyStrategies: Record<string, ReportStrategyConfig> | undefined;
  const fill = (keys: CompiledKey[]) => {
    if (keys.length === 0) return undefined;
    const values: Record<string, string> = {};
    for (const k of keys) {
      values[k.key] = decodeSlice(sliceBytes(frame, k.part), enc);
      if (k.strategy) (keyStrategies ??= {})[k.key] = k.strategy;
    }
    return values;
  };
  const values = fill(rule.telemetry);
  const attributes = fill(rule.attributes);
  if (!values && !attributes) return undefined;
  const out: ConvertedData = { deviceName: rule.config.deviceName, deviceType: rule.config.deviceType };
  if (attributes) out.attributes = attributes;
  if (values) out.telemetry = [{ ts: receivedTs, values }];
  if (keyStrategies) out.keyStrategies = keyStrategies;
  if (rule.config.reportStrategy) out.deviceStrategy = rule.config.reportStrategy as ReportStrategyConfig;
  return out;
}

/** `tb-gw validate --sample`: what one frame from `peer` (any device when absent) would send. */
export function sampleData(devices: SocketDevice[], frame: Buffer, peer?: string): ConvertedData[] {
  const rules = devices.map((d) => compileDevice(d).rule).filter((r) => peer === undefined || r.matches(peer));
  if (rules.length === 0) throw new Error(`no device address matches ${peer} (addresses: ${devices.map((d) => d.address).join(", ")})`);
  const out: ConvertedData[] = [];
  for (const r of rules) {
    if (r.requests.some((q) => requestedNames(q, frame))) continue;
    const data = convertFrame(r, frame, Date.now());
    if (data) out.push(data);
  }
  if (out.length === 0) throw new Error("the sample gives no data: it is an attribute request, or the matching devices have no keys");
  return out;
}
