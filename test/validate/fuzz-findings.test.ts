// Config errors the config fuzz (bench/fuzz-configs.ts) found only by building connectors as
// `run --check` does, now refused by `validate` at their place. (MQTT, Socket and BACnet have theirs
// beside their schemas.)

import { expect, test } from "bun:test";
import { RequestConfigSchema } from "../../src/connectors/request/schema.ts";
import { RestConfigSchema } from "../../src/connectors/rest/schema.ts";

test('REST and Request: a converter of type "custom" without "extension" is refused at its type', () => {
  const rest = RestConfigSchema.safeParse({ server: { host: "127.0.0.1", port: 5000 }, mapping: [{ endpoint: "/x", HTTPMethods: ["POST"], security: { type: "anonymous" }, converter: { type: "custom", deviceInfo: { deviceNameExpression: "d" } } }] });
  expect(rest.success).toBe(false);
  expect(rest.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([["mapping.0.converter.type", 'converter type custom needs "extension" (a class name or module file in <config>/extensions/rest/)']]);
  const request = RequestConfigSchema.safeParse({ host: "http://127.0.0.1:5000", mapping: [{ url: "x", converter: { type: "custom", deviceNameJsonExpression: "d" } }] });
  expect(request.success).toBe(false);
  expect(request.error?.issues.map((i) => i.path.join("."))).toEqual(["mapping.0.converter.type"]);
  expect(RequestConfigSchema.safeParse({ host: "http://127.0.0.1:5000", mapping: [{ url: "x", converter: { type: "custom", extension: "Mine", deviceNameJsonExpression: "d" } }] }).success).toBe(true);
});
