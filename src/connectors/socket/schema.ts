// Schema of the upstream Socket connector file (spec/connectors/socket.md), current and old format
// (the old one has type/address/port/bufferSize at the top instead of a `socket` block; it is
// converted as upstream's backward_compatibility_adapter does). Upstream names and defaults; `mode`
// and `framing` are tb-gw additions.

import { z } from "../../config/zod.ts";
import { ReportStrategySchema } from "../../config/main-schema.ts";
import { ENCODINGS, normalizeEncoding, type Encoding } from "./codec.ts";
import { compileRequest, hasWildcard } from "./converter.ts";

const opt = <T extends z.core.SomeType>(t: T, description: string) => z.optional(t).check(z.describe(description));
const posInt = () => z.number().check(z.int(), z.positive());
const port = () => z.number().check(z.int(), z.minimum(1), z.maximum(65535));

/** Case-insensitive upstream (`fold` gives the spelling kept): the JSON Schema lists the values as suggestions. */
const foldedEnum = <const T extends readonly [string, ...string[]]>(values: T, fold: (s: string) => string) =>
  z.pipe(
    z.pipe(
      z.string().check(z.meta({ examples: [...values] })),
      z.transform(fold),
    ),
    z.enum(values),
  );
const upperEnum = <const T extends readonly [string, ...string[]]>(values: T) => foldedEnum(values, (s) => s.toUpperCase());
const lowerEnum = <const T extends readonly [string, ...string[]]>(values: T) => foldedEnum(values, (s) => s.toLowerCase());

const EncodingSchema = z.pipe(
  z.string().check(
    z.refine((s) => normalizeEncoding(s) !== undefined, { message: `supported encodings: ${ENCODINGS.join(", ")} (and Python's other names for them, e.g. utf8, latin1)` }),
    z.meta({ examples: [...ENCODINGS] }),
  ),
  z.transform((s: string) => normalizeEncoding(s) as Encoding),
);

const HexBytes = z.string().check(z.regex(/^([0-9a-fA-F]{2})+$/, 'hex bytes, e.g. "0d0a"'));

const FramingSchema = z
  .object({
    type: z._default(lowerEnum(["none", "delimiter", "fixed"] as const), "none").check(z.describe("none: each read is a message (upstream); delimiter: messages end with `delimiter`; fixed: messages of `length` bytes")),
    delimiter: opt(z.string().check(z.minLength(1)), 'text that ends a message, e.g. "\\n" or "\\r\\n" (JSON escapes)'),
    delimiterHex: opt(HexBytes, 'the delimiter as hex bytes, e.g. "0d0a"; instead of `delimiter`'),
    includeDelimiter: z._default(z.boolean(), false).check(z.describe("keep the delimiter at the end of each message (byte positions count it)")),
    length: opt(posInt(), "fixed: bytes per message"),
  })
  .check(
    z.superRefine((f, ctx) => {
      if (f.type === "delimiter" && (f.delimiter === undefined) === (f.delimiterHex === undefined))
        ctx.addIssue({ code: "custom", path: ["delimiter"], message: 'delimiter framing needs one of "delimiter" (text) or "delimiterHex"' });
      if (f.type === "fixed" && f.length === undefined) ctx.addIssue({ code: "custom", path: ["length"], message: 'fixed framing needs "length" (bytes per message)' });
    }),
    z.describe("How a TCP stream is cut into messages (tb-gw addition; upstream: none)"),
  );

const SocketBlockSchema = z.object({
  type: z._default(upperEnum(["TCP", "UDP"] as const), "TCP").check(z.describe("TCP or UDP (case-insensitive)")),
  address: z._default(z.string().check(z.minLength(1)), "127.0.0.1").check(z.describe("address to listen on (server mode, UDP)")),
  port: z._default(port(), 50000).check(z.describe("port to listen on (server mode, UDP)")),
  bufferSize: opt(posInt(), "default 1024: bytes per read (framing none), longest message (delimiter), longest datagram kept (UDP)"),
  buffer_size: opt(posInt(), "the key upstream's connector actually reads; used when bufferSize is not given"),
  mode: z
    ._default(lowerEnum(["server", "client"] as const), "server")
    .check(z.describe('TCP: "server" listens for devices (upstream); "client" connects to each device\'s address (tb-gw addition)')),
  framing: z.optional(FramingSchema),
});

const ByteKeySchema = z.object({
  key: z.string().check(z.minLength(1), z.describe("attribute or telemetry key")),
  byteFrom: opt(z.number().check(z.int()), "first byte (0-based; negative counts from the end; default: from the start)"),
  byteTo: opt(z.number().check(z.int()), "end byte, exclusive; -1 = to the end (upstream); default: to the end"),
  reportStrategy: z.optional(ReportStrategySchema),
});

const AttributeRequestSchema = z.object({
  type: lowerEnum(["shared", "client"] as const).check(z.describe("attribute scope asked for")),
  requestExpression: z
    .string()
    .check(
      z.minLength(1),
      z.describe('which frames are requests: "${[0:3]==atr}" (bytes 0..3 read "atr"), or a literal text the whole frame equals'),
    ),
  attributeNameExpression: z.string().check(z.describe('attribute names from the frame, one per slice: "[3:]"; a text without slices is the name itself')),
  requestExpressionSource: opt(z.string(), "written by upstream's adapter; unused"),
  attributeNameExpressionSource: opt(z.string(), "written by upstream's adapter; unused"),
}).check(
  // the connector compiles it at start and ignores a request it cannot read: say so here, at its place
  z.superRefine((r, ctx) => {
    const compiled = compileRequest(r as AttributeRequest);
    if (typeof compiled === "string") ctx.addIssue({ code: "custom", message: compiled, input: r.requestExpression, path: ["requestExpression"] });
  }),
);

const DeviceSchema = z
  .object({
    address: opt(z.string().check(z.minLength(1)), 'peer "ip:port" this device sends from; * is a wildcard ("*:*", "10.0.0.5:*"). Client mode: the "host:port" to connect to'),
    addressFilter: opt(z.string().check(z.minLength(1)), "old name of `address`; wins when both are given (upstream)"),
    deviceName: z.string().check(z.minLength(1), z.meta({ tbgw: "deviceName" })),
    deviceType: z._default(z.string(), "default"),
    encoding: z._default(EncodingSchema, "utf-8").check(z.describe("how byte slices are read and downlink text written; hex renders slices as hex")),
    converter: opt(
      z.string().check(z.minLength(1)),
      "uplink converter class: BytesSocketUplinkConverter (built in, the default) or a class exported by a module in <config>/extensions/socket/ (built with {deviceName, deviceType}; convert(deviceConfig, bytes))",
    ),
    reportStrategy: z.optional(ReportStrategySchema),
    telemetry: z._default(z.array(ByteKeySchema), []),
    attributes: z._default(z.array(ByteKeySchema), []),
    attributeRequests: z._default(z.array(AttributeRequestSchema), []),
    attributeUpdates: z._default(
      z.array(
        z.object({
          attributeOnThingsBoard: z.string().check(z.describe("shared attribute written to the device")),
          encoding: z.optional(EncodingSchema).check(z.describe("overrides the device encoding for this attribute (upstream ignores it)")),
        }),
      ),
      [],
    ),
    serverSideRpc: z._default(
      z.array(
        z.object({
          methodRPC: z.string().check(z.describe("RPC method name")),
          withResponse: z._default(z.boolean(), true).check(z.describe("reply with the write result")),
          methodProcessing: z._default(lowerEnum(["write"] as const), "write").check(z.describe("write: the params are written to the device")),
          encoding: z.optional(EncodingSchema).check(z.describe("overrides the device encoding for this method (upstream ignores it)")),
        }),
      ),
      [],
    ),
  })
  .check(
    z.superRefine((d, ctx) => {
      if (d.address === undefined && d.addressFilter === undefined) ctx.addIssue({ code: "custom", path: ["address"], message: 'a device needs "address" (peer "ip:port", * allowed)' });
    }),
  );

const InputSchema = z
  .object({
    name: z.optional(z.string()),
    id: z.optional(z.string()),
    logLevel: z.optional(z.string()),
    enableRemoteLogging: z.optional(z.boolean()),
    socket: z.optional(SocketBlockSchema),
    // Old format: the socket settings at the top (upstream's adapter moves them into `socket`).
    type: opt(upperEnum(["TCP", "UDP"] as const), "old format: socket.type"),
    address: opt(z.string().check(z.minLength(1)), "old format: socket.address"),
    port: opt(port(), "old format: socket.port"),
    bufferSize: opt(posInt(), "old format: socket.bufferSize"),
    devices: z._default(z.array(DeviceSchema), []),
  })
  .check(
    z.superRefine((c, ctx) => {
      const s = c.socket;
      if (!s) return;
      const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
      if (s.type === "UDP" && s.mode === "client") issue(["socket", "mode"], "client mode is for TCP; UDP always listens on socket.address:port (and answers from it)");
      if (s.type === "UDP" && s.framing && s.framing.type !== "none") issue(["socket", "framing"], "framing cuts TCP streams; a UDP datagram is always one message");
      if (s.mode !== "client") return;
      c.devices.forEach((d, i) => {
        const address = d.addressFilter ?? d.address ?? "";
        if (hasWildcard(address) || !/^.+:\d+$/.test(address))
          issue(["devices", i, d.addressFilter !== undefined ? "addressFilter" : "address"], `client mode connects to each device: the address must be "host:port" without *, got "${address}"`);
      });
    }),
    z.describe("Socket connector: TCP or UDP devices sending bytes, converted by byte positions"),
  );

type Input = z.output<typeof InputSchema>;
export type SocketBlock = Omit<z.output<typeof SocketBlockSchema>, "buffer_size"> & { bufferSize: number };
export type SocketDevice = Omit<z.output<typeof DeviceSchema>, "addressFilter" | "address"> & { address: string };
export type ByteKey = z.output<typeof ByteKeySchema>;
export type AttributeRequest = z.output<typeof AttributeRequestSchema>;
export interface SocketConfig {
  name?: string;
  id?: string;
  logLevel?: string;
  socket: SocketBlock;
  devices: SocketDevice[];
}

/** Old format → `socket` block (upstream's adapter); `addressFilter` wins over `address` (upstream). */
function toCurrent(input: Input): SocketConfig {
  const s = input.socket ?? { type: input.type ?? "TCP", address: input.address ?? "127.0.0.1", port: input.port ?? 50000, bufferSize: input.bufferSize, mode: "server" as const };
  const { buffer_size, ...rest } = s as typeof s & { buffer_size?: number };
  const socket: SocketBlock = { ...rest, bufferSize: s.bufferSize ?? buffer_size ?? 1024 };
  const devices = input.devices.map(({ addressFilter, address, ...d }) => ({ ...d, address: (addressFilter ?? address)! }));
  return { name: input.name, id: input.id, logLevel: input.logLevel, socket, devices };
}

export const SocketConfigSchema: z.ZodMiniType<SocketConfig, unknown> = z.pipe(InputSchema, z.transform(toCurrent));
