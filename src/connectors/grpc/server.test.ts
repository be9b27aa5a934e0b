// The server's queue rules in process, with grpc-js's own client built from the same definition
// (an extra beside gateway.test.ts, whose peer is Python's grpcio): the per-session cap drops the
// oldest and says so once; downlinks wait for their session's next call, in order.

import { afterEach, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { capturingLogger } from "../../storage/contract-data.ts";
import { loadServiceDefinition } from "./proto.ts";
import { GrpcServer, MAX_QUEUE, type ConnectorBinding } from "./server.ts";
import type { FromConnectorMessage, FromServiceMessage } from "./wire.ts";
import { GrpcSchema } from "../../config/main-schema.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const cap = capturingLogger();
  const server = await GrpcServer.start(GrpcSchema.parse({ enabled: true, serverPort: 0, serverHost: "127.0.0.1" }), cap.log);
  cleanups.push(() => cap.stop(), () => server.stop());
  const binding: ConnectorBinding = { name: "inproc", id: "id-1", key: "key-1", configuration: "{}", handle: async () => [], transportLost: () => {} };
  server.attach(binding);
  const Client = grpc.makeGenericClientConstructor(loadServiceDefinition(), "TBGatewayProtoService");
  const client = new Client(server.address, grpc.credentials.createInsecure()) as any;
  cleanups.push(() => client.close());
  const md = new grpc.Metadata();
  md.set("identifier", "session-1");
  const call = (m: FromConnectorMessage) =>
    new Promise<FromServiceMessage>((resolve, reject) => client.stream(m, md, { deadline: Date.now() + 15_000 }, (e: Error | null, r: FromServiceMessage) => (e ? reject(e) : resolve(r))));
  return { server, binding, call, cap };
}

test("downlinks ride on the next replies, in order; then the empty reply", async () => {
  const { server, binding, call } = await setup();
  expect((await call({ registerConnectorMsg: { connectorKey: "key-1" } })).response?.status).toBe("SUCCESS");
  for (const n of ["a", "b"]) server.push(binding, { gatewayDeviceRpcRequestMsg: { deviceName: n, rpcRequestMsg: { requestId: 1, methodName: "m", params: "" } } });
  expect((await call({ response: {} })).gatewayDeviceRpcRequestMsg?.deviceName).toBe("a");
  expect((await call({ response: {} })).gatewayDeviceRpcRequestMsg?.deviceName).toBe("b");
  expect(await call({ response: {} })).toEqual({ response: {} });
});

test(`a session that does not collect: more than ${MAX_QUEUE} queued drops the oldest, logged once`, async () => {
  const { server, binding, call, cap } = await setup();
  await call({ registerConnectorMsg: { connectorKey: "key-1" } });
  for (let i = 0; i < MAX_QUEUE + 5; i++) server.push(binding, { gatewayDeviceRpcRequestMsg: { deviceName: `d${i}`, rpcRequestMsg: { requestId: i, methodName: "m", params: "" } } });
  expect((await call({ response: {} })).gatewayDeviceRpcRequestMsg?.deviceName).toBe("d5");
  expect(cap.records.filter((r) => r.message.includes("does not collect its messages"))).toHaveLength(1);
});
