// A standalone OPC-UA server used as the test and bench peer. It is NOT our client code: it runs as a
// separate process (`bun src/connectors/opcua/peer/server.ts`) on node-opcua's server stack, and reads
// its nodeset XML from node_modules, so it is never part of the compiled gateway.
//
// Environment: OPCUA_PORT (required), OPCUA_SECURE=1 (only Sign/SignAndEncrypt endpoints, users below),
// OPCUA_PKI (server PKI folder), OPCUA_BENCH_NODES=N (adds Bench/V0..V{N-1} changing every
// OPCUA_BENCH_PERIOD ms), OPCUA_TICK_MS (period of the changing demo values, default 100),
// OPCUA_MAX_SUBSCRIPTIONS=N (server-wide subscription limit; 0 refuses every CreateSubscription),
// OPCUA_POLICIES=A,B (security policies of a secure server; default Basic256Sha256,Aes128_Sha256_RsaOaep;
// node-opcua leaves the deprecated Basic128Rsa15 and Basic256 out unless they are listed here).
// Prints "OPCUA READY <endpointUrl>" when listening.

import { OPCUAServer } from "node-opcua-server";
import { OPCUACertificateManager } from "node-opcua-certificate-manager";
import { nodesets } from "node-opcua-nodesets";
import { DataType, MessageSecurityMode, SecurityPolicy, StatusCodes, Variant, coerceNodeId } from "node-opcua-client";
import type { Variant as VariantT } from "node-opcua-client";
import { tmpdir } from "node:os";
import { join } from "node:path";

const port = Number(process.env.OPCUA_PORT);
if (!port) {
  console.error("OPCUA_PORT is required");
  process.exit(2);
}
const secure = process.env.OPCUA_SECURE === "1";
const pkiRoot = process.env.OPCUA_PKI ?? join(tmpdir(), `tbgw-opcua-server-pki-${port}`);
const tickMs = Number(process.env.OPCUA_TICK_MS ?? 100);
const benchNodes = Number(process.env.OPCUA_BENCH_NODES ?? 0);
const benchPeriod = Number(process.env.OPCUA_BENCH_PERIOD ?? 100);
const policyNames = (process.env.OPCUA_POLICIES ?? "Basic256Sha256,Aes128_Sha256_RsaOaep").split(",").map((p) => p.trim());
const policies = policyNames.map((name) => {
  const p = (SecurityPolicy as Record<string, SecurityPolicy>)[name];
  if (!p || p === SecurityPolicy.None) throw new Error(`OPCUA_POLICIES: unknown security policy "${name}"`);
  return p;
});

const serverCertificateManager = new OPCUACertificateManager({ rootFolder: pkiRoot, automaticallyAcceptUnknownCertificate: true });

const server = new OPCUAServer({
  port,
  hostname: "127.0.0.1",
  alternateHostname: ["127.0.0.1"],
  resourcePath: "/tbgw/test",
  nodeset_filename: [nodesets.standard],
  serverCertificateManager,
  userCertificateManager: new OPCUACertificateManager({ rootFolder: join(pkiRoot, "user"), automaticallyAcceptUnknownCertificate: true }),
  securityModes: secure ? [MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt] : [MessageSecurityMode.None],
  securityPolicies: secure ? policies : [SecurityPolicy.None],
  allowAnonymous: !secure,
  userManager: {
    isValidUser: (user: string, password: string) => user === "gwuser" && password === "gwpass",
  },
  serverInfo: { applicationUri: "urn:tbgw:test-peer", productUri: "tbgw-test-peer" },
});

await server.initialize();
// The constructor option treats 0 as "use the default", so a limit of 0 is set on the live
// capabilities, which the server consults on every CreateSubscription request.
if (process.env.OPCUA_MAX_SUBSCRIPTIONS !== undefined) server.engine.serverCapabilities.maxSubscriptions = Number(process.env.OPCUA_MAX_SUBSCRIPTIONS);
const addressSpace = server.engine.addressSpace!;
const ns = addressSpace.getOwnNamespace();
const objects = addressSpace.rootFolder.objects;

// --- MyObject: the device of the upstream sample config -----------------------------------------
const my = ns.addObject({ organizedBy: objects, browseName: "MyObject", nodeId: "s=MyObject" });
let temperature = 20;
let relay = false;
const values: Record<string, Variant> = {
  Frequency: new Variant({ dataType: DataType.Double, value: 50 }),
  Power: new Variant({ dataType: DataType.Int32, value: 1500 }),
  Humidity: new Variant({ dataType: DataType.Double, value: 40.5 }),
};
for (const [name, v] of Object.entries(values)) {
  ns.addVariable({
    componentOf: my,
    browseName: name,
    nodeId: `s=MyObject.${name}`,
    dataType: DataType[v.dataType],
    minimumSamplingInterval: 50,
    accessLevel: "CurrentRead | CurrentWrite",
    userAccessLevel: "CurrentRead | CurrentWrite",
    value: { get: () => values[name]!, set: (nv: Variant) => ((values[name] = nv), StatusCodes.Good) },
  });
}
ns.addVariable({
  componentOf: my,
  browseName: "Temperature",
  nodeId: "s=MyObject.Temperature",
  dataType: "Double",
  minimumSamplingInterval: 50,
  value: { get: () => new Variant({ dataType: DataType.Double, value: temperature }) },
});
ns.addVariable({
  componentOf: my,
  browseName: "Relay",
  nodeId: "s=MyObject.Relay",
  dataType: "Boolean",
  accessLevel: "CurrentRead | CurrentWrite",
  userAccessLevel: "CurrentRead | CurrentWrite",
  minimumSamplingInterval: 50,
  value: {
    get: () => new Variant({ dataType: DataType.Boolean, value: relay }),
    set: (v: Variant) => ((relay = Boolean(v.value)), StatusCodes.Good),
  },
});
const multiply = ns.addMethod(my, {
  browseName: "multiply",
  nodeId: "s=MyObject.multiply",
  inputArguments: [
    { name: "a", dataType: DataType.Int64 },
    { name: "b", dataType: DataType.Int64 },
  ],
  outputArguments: [{ name: "product", dataType: DataType.Int64 }],
});
multiply.bindMethod(async (args: VariantT[], _ctx: unknown) => {
  const a = BigInt(Array.isArray(args[0]!.value) ? args[0]!.value[1] : args[0]!.value);
  const b = BigInt(Array.isArray(args[1]!.value) ? args[1]!.value[1] : args[1]!.value);
  return { statusCode: StatusCodes.Good, outputArguments: [new Variant({ dataType: DataType.Int64, arrayType: 0, value: int64(a * b) })] };
});
const getRelay = ns.addMethod(my, { browseName: "get_relay", nodeId: "s=MyObject.get_relay", outputArguments: [{ name: "relay", dataType: DataType.Boolean }] });
getRelay.bindMethod(async (_args: VariantT[], _ctx: unknown) => ({ statusCode: StatusCodes.Good, outputArguments: [new Variant({ dataType: DataType.Boolean, value: relay })] }));
const setRelay = ns.addMethod(my, { browseName: "set_relay", nodeId: "s=MyObject.set_relay", inputArguments: [{ name: "on", dataType: DataType.Boolean }], outputArguments: [] });
setRelay.bindMethod(async (args: VariantT[], _ctx: unknown) => ((relay = Boolean(args[0]?.value)), { statusCode: StatusCodes.Good, outputArguments: [] }));
const concat = ns.addMethod(my, {
  browseName: "concat",
  nodeId: "s=MyObject.concat",
  inputArguments: [
    { name: "s", dataType: DataType.String },
    { name: "d", dataType: DataType.Double },
    { name: "b", dataType: DataType.Boolean },
  ],
  outputArguments: [{ name: "out", dataType: DataType.String }],
});
concat.bindMethod(async (args: VariantT[], _ctx: unknown) => ({
  statusCode: StatusCodes.Good,
  outputArguments: [new Variant({ dataType: DataType.String, value: `${args[0]!.value}|${args[1]!.value}|${args[2]!.value}` })],
}));

function int64(v: bigint): [number, number] {
  const u = BigInt.asUintN(64, v);
  return [Number(u >> 32n), Number(u & 0xffffffffn)];
}

// --- Types: one variable per built-in data type, with fixed, known values -----------------------
const types = ns.addObject({ organizedBy: objects, browseName: "Types", nodeId: "i=1000" });
ns.addVariable({ componentOf: types, browseName: "DeviceName", nodeId: "s=Types.DeviceName", dataType: "String", value: { dataType: DataType.String, value: "Types Device" } });
const typed: Array<[string, DataType, unknown, string?]> = [
  ["Boolean", DataType.Boolean, true],
  ["SByte", DataType.SByte, -5],
  ["Byte", DataType.Byte, 200],
  ["Int16", DataType.Int16, -3000],
  ["UInt16", DataType.UInt16, 60000],
  ["Int32", DataType.Int32, -100000],
  ["UInt32", DataType.UInt32, 4000000000],
  ["Int64", DataType.Int64, int64(-9007199254740993n)],
  ["UInt64", DataType.UInt64, int64(18446744073709551615n)],
  ["Int64Large", DataType.Int64, int64(2n ** 60n + 1n)],
  ["Float", DataType.Float, 1.5],
  ["Double", DataType.Double, 3.14159],
  ["String", DataType.String, "hello"],
  ["DateTime", DataType.DateTime, new Date("2024-05-06T07:08:09.123Z")],
  ["Guid", DataType.Guid, "72962B91-FA75-4AE6-8D28-B404DC7DAF63"],
  ["ByteString", DataType.ByteString, Buffer.from([0xde, 0xad, 0xbe, 0xef])],
  ["XmlElement", DataType.XmlElement, "<a>b</a>"],
  ["NodeId", DataType.NodeId, coerceNodeId("ns=1;s=Foo")],
  ["StatusCode", DataType.StatusCode, StatusCodes.BadTimeout],
  ["LocalizedText", DataType.LocalizedText, { text: "Hallo", locale: "de" }],
  ["QualifiedName", DataType.QualifiedName, { namespaceIndex: 1, name: "Qn" }],
];
for (const [name, dataType, value] of typed) {
  ns.addVariable({
    componentOf: types,
    browseName: name,
    nodeId: `s=Types.${name}`,
    dataType: DataType[dataType],
    accessLevel: "CurrentRead | CurrentWrite",
    userAccessLevel: "CurrentRead | CurrentWrite",
    value: new Variant({ dataType, arrayType: 0, value }),
  });
}
const arrays: Array<[string, DataType, unknown[]]> = [
  ["BooleanArray", DataType.Boolean, [true, false]],
  ["Int32Array", DataType.Int32, [1, -2, 3]],
  ["DoubleArray", DataType.Double, [1, 2.5]],
  ["StringArray", DataType.String, ["a", "b"]],
];
for (const [name, dataType, value] of arrays) {
  ns.addVariable({ componentOf: types, browseName: name, nodeId: `s=Types.${name}`, dataType: DataType[dataType], valueRank: 1, value: { dataType, arrayType: 1, value } });
}
// Node-id flavours for identifier mapping: numeric, guid and bytestring ids.
ns.addVariable({ componentOf: types, browseName: "ByNumber", nodeId: "i=2001", dataType: "Int32", value: { dataType: DataType.Int32, value: 42 } });
ns.addVariable({ componentOf: types, browseName: "ByGuid", nodeId: "g=1E14849E-3744-470D-8C7B-5F9110C2FA32", dataType: "Int32", value: { dataType: DataType.Int32, value: 43 } });
ns.addVariable({ componentOf: types, browseName: "ByBytes", nodeId: "b=Ynl0ZXM=", dataType: "Int32", value: { dataType: DataType.Int32, value: 44 } });

// --- Control: lets a test remove and re-add a node to check "disappears / returns" handling ------
const control = ns.addObject({ organizedBy: objects, browseName: "Control", nodeId: "s=Control" });
let volatileNode: ReturnType<typeof ns.addVariable> | undefined;
const addVolatile = () => {
  volatileNode = ns.addVariable({ componentOf: my, browseName: "Volatile", nodeId: "s=MyObject.Volatile", dataType: "Int32", value: { dataType: DataType.Int32, value: 7 } });
};
addVolatile();
const toggle = ns.addMethod(control, { browseName: "ToggleVolatile", nodeId: "s=Control.ToggleVolatile", outputArguments: [{ name: "present", dataType: DataType.Boolean }] });
toggle.bindMethod(async (_args: VariantT[], _ctx: unknown) => {
  if (volatileNode) {
    addressSpace.deleteNode(volatileNode);
    volatileNode = undefined;
  } else addVolatile();
  return { statusCode: StatusCodes.Good, outputArguments: [new Variant({ dataType: DataType.Boolean, value: !!volatileNode })] };
});

// --- Bench: many variables changing on a timer ---------------------------------------------------
const benchVals = new Float64Array(benchNodes);
if (benchNodes > 0) {
  const bench = ns.addObject({ organizedBy: objects, browseName: "Bench", nodeId: "s=Bench" });
  for (let i = 0; i < benchNodes; i++) {
    ns.addVariable({
      componentOf: bench,
      browseName: `V${i}`,
      nodeId: `s=Bench.V${i}`,
      dataType: "Double",
      minimumSamplingInterval: 50,
      value: { get: () => new Variant({ dataType: DataType.Double, value: benchVals[i]! }) },
    });
  }
  setInterval(() => {
    for (let i = 0; i < benchNodes; i++) benchVals[i]! += 1;
  }, benchPeriod);
}

setInterval(() => {
  temperature = Math.round((temperature + 0.5) * 10) / 10;
}, tickMs);

await server.start();
console.log(`OPCUA READY ${server.getEndpointUrl()}`);

const shutdown = async () => {
  await server.shutdown(0);
  process.exit(0);
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
