// Schema of the upstream CAN connector file (spec/connectors/can.md). Upstream names and defaults;
// value and command layouts and hex payloads are checked here, expressions by validate's `expression`
// role (at the offending character), so a mistake is a `validate` error at its place instead of a
// key silently ignored at run time (upstream).

import { z } from "../../config/zod.ts";
import { ReportStrategySchema } from "../../config/main-schema.ts";
import { parseCommandLayout, parseHex, parseValueLayout, type CommandLayout, type ValueLayout } from "./layout.ts";
import { SLCAN_BITRATES } from "./slcan.ts";

export const INTERFACES = ["slcan", "socketcan"] as const;
export type CanInterface = (typeof INTERFACES)[number];

const opt = <T extends z.core.SomeType>(t: T, description: string) => z.optional(t).check(z.describe(description));
const flag = (description: string) => z._default(z.boolean(), false).check(z.describe(description));

/** Largest 29-bit (extended) arbitration id. */
const MAX_EXTENDED_ID = 0x1fffffff;
const MAX_STANDARD_ID = 0x7ff;

const NodeId = z.number().check(z.int(), z.minimum(0), z.maximum(MAX_EXTENDED_ID), z.describe("arbitration id (11-bit standard or 29-bit extended)"));

/** A text checked by `check` (which returns an error text or a value); the value is kept as given. */
const checkedText = (check: (s: string) => string | undefined, description: string) =>
  z.string().check(
    z.superRefine((s, ctx) => {
      const problem = check(s);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: s });
    }),
    z.describe(description),
  );

const hexProblem = (s: string) => {
  const r = parseHex(s);
  return typeof r === "string" ? r : undefined;
};
const HexText = (description: string) => checkedText(hexProblem, description);

/** The variables of a key's `expression`: the decoded value and the frame's bytes. */
export const VALUE_VARIABLES = ["value", "can_data"] as const;

/**
 * A Python expression for the shared safe evaluator; `validate` checks it (the `expression` role) and
 * points at the offending character. `variables`: the only names it may use (absent: any, known at run time).
 */
const ExpressionText = (description: string, variables?: readonly string[]) =>
  opt(z.string().check(z.meta(variables ? { tbgw: "expression", tbgwExpression: { variables: [...variables] } } : { tbgw: "expression" })), `${description}; safe Python subset, see src/common/expressions/README.md`);

const layoutSchema = <T>(parse: (v: unknown) => T | string, description: string) =>
  z.pipe(
    z.union([z.string(), z.record(z.string(), z.unknown())]).check(
      z.superRefine((v, ctx) => {
        const r = parse(v);
        if (typeof r === "string") ctx.addIssue({ code: "custom", message: r, input: v });
      }),
      z.describe(description),
    ),
    z.transform((v) => parse(v) as T),
  );

const ValueSchema = layoutSchema<ValueLayout>(
  parseValueLayout,
  'where the value is: "start:length:[byteorder:]type[:signed|encoding]" (length -1 = to the end; type bool, boolean, int, long, float, double, string, raw) or {start, length, byteorder, type, signed, encoding}',
);
const CommandSchema = layoutSchema<CommandLayout>(parseCommandLayout, 'command id the frame must carry: "start:length:[byteorder:]value" or {start, length, byteorder, value}');

const FrameFlags = {
  isExtendedId: flag("29-bit arbitration id"),
  isFd: flag("CAN FD frame (up to 64 data bytes)"),
  bitrateSwitch: flag("CAN FD bit rate switch"),
};

const PollingSchema = z.object({
  type: z._default(z.enum(["once", "always"]), "always").check(z.describe("once: at start (and after each reconnect); always: every `period` seconds")),
  period: z._default(z.number().check(z.positive()), 1).check(z.describe("seconds between request frames (type always)")),
  dataInHex: HexText("request frame data as hex, e.g. \"AB CD AB CD\""),
  key: opt(z.string(), "written by upstream for its logs; unused"),
});

const KeySchema = z
  .object({
    key: z.string().check(z.minLength(1), z.describe("attribute or telemetry key")),
    nodeId: NodeId,
    ...FrameFlags,
    command: z.optional(CommandSchema),
    value: ValueSchema,
    expression: ExpressionText("Python expression over `value` (and `can_data`, the frame's bytes as a list of ints), e.g. \"value / 4\"", VALUE_VARIABLES),
    polling: z.optional(PollingSchema),
    reportStrategy: z.optional(ReportStrategySchema),
  })
  .check(
    z.superRefine((k, ctx) => {
      if (k.polling && k.nodeId > MAX_STANDARD_ID && !k.isExtendedId)
        ctx.addIssue({ code: "custom", path: ["nodeId"], message: `nodeId ${k.nodeId} is above 2047, the largest standard id: set "isExtendedId": true to poll it`, input: k.nodeId });
      if (k.polling) {
        const data = parseHex(k.polling.dataInHex);
        const max = k.isFd ? 64 : 8;
        if (typeof data !== "string" && data.length > max)
          ctx.addIssue({ code: "custom", path: ["polling", "dataInHex"], message: `${data.length} bytes do not fit in a ${k.isFd ? "CAN FD" : "CAN"} frame (at most ${max})`, input: k.polling.dataInHex });
      }
    }),
  );

const DownlinkFields = {
  nodeId: opt(NodeId, "arbitration id of the frame written"),
  ...FrameFlags,
  dataLength: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(64)), 1).check(z.describe("bytes an integer value is written in")),
  dataByteorder: z._default(z.enum(["big", "little"]), "big").check(z.describe("byte order of integer and float values")),
  dataSigned: flag("write integers signed (negative values always are)"),
  dataEncoding: z._default(z.string(), "ascii").check(z.describe("encoding of text values")),
  dataExpression: ExpressionText("Python expression over the RPC params giving the value to write (an int is written in dataLength bytes, a float as 4-byte IEEE)"),
  dataBefore: opt(HexText(""), "hex bytes written before the value"),
  dataAfter: opt(HexText(""), "hex bytes written after the value"),
  // Not checked here: upstream's sample has a malformed one and must load; the connector warns at start.
  dataInHex: opt(z.string(), "fixed frame data as hex; the value is then not used"),
  strictEval: opt(z.boolean(), "accepted; expressions never reach Python builtins here"),
};

const AttributeUpdateSchema = z
  .object({
    attributeOnThingsBoard: opt(z.string().check(z.minLength(1)), "shared attribute written to the bus"),
    attribute: opt(z.string().check(z.minLength(1)), "old name of attributeOnThingsBoard"),
    ...DownlinkFields,
    dataExpression: ExpressionText("Python expression over `value`, the attribute's new value, giving the value to write", ["value"]),
  })
  .check(
    z.superRefine((a, ctx) => {
      if (!a.attributeOnThingsBoard && !a.attribute) ctx.addIssue({ code: "custom", path: ["attributeOnThingsBoard"], message: "an attribute update needs attributeOnThingsBoard (the shared attribute name)" });
      if (a.nodeId === undefined) ctx.addIssue({ code: "custom", path: ["nodeId"], message: "an attribute update needs nodeId (the arbitration id to write to)" });
    }),
  );

const RpcSchema = z.object({
  method: z.string().check(z.minLength(1), z.describe("RPC method name")),
  response: opt(z.boolean(), "reply {success} to the platform (default false, true when the params override the rule)"),
  ...DownlinkFields,
});

const standardIdCheck = (path: (string | number)[], d: { nodeId?: number; isExtendedId: boolean }, ctx: z.core.$RefinementCtx<unknown>) => {
  if (d.nodeId !== undefined && d.nodeId > MAX_STANDARD_ID && !d.isExtendedId)
    ctx.addIssue({ code: "custom", path: [...path, "nodeId"], message: `nodeId ${d.nodeId} is above 2047, the largest standard id: set "isExtendedId": true`, input: d.nodeId });
};

const DeviceSchema = z
  .object({
    name: z.string().check(z.minLength(1), z.meta({ tbgw: "deviceName" })),
    type: opt(z.string(), 'device type on the platform (default "can")'),
    sendDataOnlyOnChange: flag("accepted for compatibility; upstream does not enforce it either (use reportStrategy)"),
    strictEval: z._default(z.boolean(), true).check(z.describe("accepted; expressions never reach Python builtins here")),
    enableUnknownRpc: flag("accept RPC methods without a rule: the params are the frame definition (implies overrideRpcConfig)"),
    overrideRpcConfig: flag("RPC params may replace a rule's fields"),
    converters: opt(
      z.object({
        uplink: opt(z.string().check(z.minLength(1)), "a JS/TS class (or module file) in <config folder>/extensions/can/ (BytesCanUplinkConverter = the built-in one), built with the device entry, convert(keyConfigs, frameBytes) per frame"),
        downlink: opt(z.string(), "custom downlink converter: a JS/TS class (or module file) in <config folder>/extensions/can/ (BytesCanDownlinkConverter = the built-in one), built with the device entry; convert(rule, {value} or the RPC params) returns the frame data (a list of integers 0..255 or a byte array)"),
      }),
      "custom converter classes",
    ),
    reportStrategy: z.optional(ReportStrategySchema),
    attributes: z._default(z.array(KeySchema), []),
    timeseries: z._default(z.array(KeySchema), []),
    attributeUpdates: z._default(z.array(AttributeUpdateSchema), []),
    serverSideRpc: z._default(z.array(RpcSchema), []),
  })
  .check(
    z.superRefine((d, ctx) => {
      d.attributeUpdates.forEach((a, i) => standardIdCheck(["attributeUpdates", i], a, ctx));
      d.serverSideRpc.forEach((r, i) => standardIdCheck(["serverSideRpc", i], r, ctx));
      const seen = new Set<string>();
      d.serverSideRpc.forEach((r, i) => {
        if (seen.has(r.method)) ctx.addIssue({ code: "custom", path: ["serverSideRpc", i, "method"], message: `RPC method "${r.method}" is configured twice; the last rule would win upstream, remove one` });
        seen.add(r.method);
      });
    }),
  );

const BackendSchema = z
  .looseObject({
    bitrate: opt(z.number(), `slcan: CAN bit rate set on the adapter (${Object.keys(SLCAN_BITRATES).join(", ")}); leave out to keep the adapter's`),
    ttyBaudrate: opt(z.number().check(z.int(), z.positive()), "slcan: serial line speed (default 115200; or channel \"/dev/ttyACM0@115200\")"),
    fd: opt(z.boolean(), "socketcan: open the socket for CAN FD frames"),
  })
  .check(
    z.refine((b) => b.bitrate === undefined || String(b.bitrate) in SLCAN_BITRATES, {
      message: `bitrate must be one of ${Object.keys(SLCAN_BITRATES).join(", ")} (the rates an slcan adapter has commands for)`,
      path: ["bitrate"],
    }),
    z.describe("extra bus options (python-can's backend kwargs); other keys are accepted and unused"),
  );

const InterfaceSchema = z.string().check(
  z.refine((s) => (INTERFACES as readonly string[]).includes(s), {
    message: `supported interfaces: "slcan" (serial-line adapters: channel = serial device) and "socketcan" (Linux CAN sockets: channel = interface name); other python-can interfaces are not available`,
  }),
  z.meta({ examples: [...INTERFACES] }),
);

export const CanConfigSchema = z.object({
  name: z.optional(z.string()),
  id: z.optional(z.string()),
  logLevel: z.optional(z.string()),
  enableRemoteLogging: z.optional(z.boolean()),
  interface: z._default(InterfaceSchema, "socketcan").check(z.describe('"slcan" (serial-line adapter) or "socketcan" (Linux)')),
  channel: z._default(z.string().check(z.minLength(1)), "vcan0").check(z.describe("slcan: serial device path (optionally @baud); socketcan: interface name")),
  backend: z._default(BackendSchema, {}),
  reconnect: z._default(z.boolean(), true).check(z.describe("reopen the bus after an error")),
  reconnectPeriod: z._default(z.number().check(z.positive()), 30).check(z.describe("seconds before reopening the bus")),
  reconnectCount: opt(z.number().check(z.int(), z.minimum(0)), "reopen attempts in a row (unlimited when absent)"),
  devices: z.array(DeviceSchema).check(z.describe("devices on the bus")),
});

export type CanConfig = z.infer<typeof CanConfigSchema>;
export type CanDevice = CanConfig["devices"][number];
export type CanKey = CanDevice["timeseries"][number];
export type CanAttributeUpdate = CanDevice["attributeUpdates"][number];
export type CanRpc = CanDevice["serverSideRpc"][number];
/** Fields a frame written to the bus is built from (a rule, or RPC params standing in for one). */
export type DownlinkRule = Partial<Omit<CanRpc, "method">> & { method?: string };
