// The protocol definition, embedded: messages.proto is imported as text at build time (so the
// compiled binary reads no file), parsed by protobufjs (the parser @grpc/proto-loader itself uses)
// and turned into grpc-js's service definition by proto-loader's fromJSON.

import protobuf from "protobufjs";
import { fromJSON } from "@grpc/proto-loader";
import type { ServiceDefinition } from "@grpc/grpc-js";
import protoText from "./messages.proto" with { type: "text" };

/** How messages look in JS: enums as names, int64 as decimal strings (no precision loss), no defaults filled in so presence shows. */
export const LOADER_OPTIONS = { keepCase: true, enums: String, longs: String, defaults: false, arrays: false } as const;

export const PROTO_TEXT: string = protoText;

export function loadServiceDefinition(): ServiceDefinition {
  const root = protobuf.parse(PROTO_TEXT, { keepCase: true }).root;
  const pkg = fromJSON(root.toJSON(), LOADER_OPTIONS);
  const svc = pkg["messages.TBGatewayProtoService"] as unknown as ServiceDefinition;
  if (!svc || typeof svc !== "object" || !("stream" in svc)) throw new Error("messages.proto: service messages.TBGatewayProtoService with method stream not found");
  return svc;
}
