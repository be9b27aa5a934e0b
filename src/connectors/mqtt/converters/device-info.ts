// Device name and profile for one message, from the mapping's deviceInfo: a `${...}` template over
// the message (json), a slice of the message bytes (bytes), a regex on the topic, or a constant.

import { compileNameTemplate } from "../../../common/converters/json-mapping.ts";
import { compileSlices, renderSlices, type Slices } from "../../../common/expressions/index.ts";
import type { DeviceInfo } from "../schema.ts";
import { pythonRegex, valueFromTopic } from "../topic.ts";
import { ConverterConfigError } from "./types.ts";
import { errorText } from "../../../observe/logger.ts";

export type FieldResolver = (topic: string, body: unknown) => string | undefined;

function compileField(
  source: string | undefined,
  expression: string | undefined,
  what: string,
  bytes: boolean,
): FieldResolver | undefined {
  if (expression === undefined || expression === "") return undefined;
  const src = source ?? (bytes ? "message" : "message");
  if (src === "constant") return () => expression;
  if (src === "topic") {
    let re: RegExp;
    try {
      re = pythonRegex(expression);
    } catch (e) {
      throw new ConverterConfigError(`${what}: invalid topic regex ${JSON.stringify(expression)} (${errorText(e)})`);
    }
    // no match → the expression itself, as upstream
    return (topic) => valueFromTopic(re, topic) ?? expression;
  }
  if (bytes) {
    const slices: Slices = compileSlices(expression);
    return (_t, body) => renderSlices(slices, body as Buffer, false);
  }
  const fromBody = compileNameTemplate(expression);
  return (_t, body) => fromBody(body);
}

export interface DeviceResolvers {
  name: FieldResolver;
  nameExpression: string;
  profile: FieldResolver | undefined;
}

export function compileDeviceInfo(info: DeviceInfo | undefined, bytes: boolean, where: string): DeviceResolvers {
  const name = compileField(info?.deviceNameExpressionSource, info?.deviceNameExpression, `${where}.deviceInfo.deviceNameExpression`, bytes);
  if (!name) throw new ConverterConfigError(`${where}: deviceInfo.deviceNameExpression is required`);
  return {
    name,
    nameExpression: info!.deviceNameExpression!,
    profile: compileField(info?.deviceProfileExpressionSource, info?.deviceProfileExpression, `${where}.deviceInfo.deviceProfileExpression`, bytes),
  };
}
