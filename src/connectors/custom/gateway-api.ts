// The `gateway` object a custom connector is built with (upstream's contract in camelCase, typed in
// tb-gw-extension.d.ts): a thin layer over the ConnectorContext every connector gets.

import { normalizeConverted } from "../../common/converters/custom.ts";
import type { ConnectorContext, SendStatus } from "../../core/connector.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import type { ExtensionLogger, Gateway, KeyValues, SerialPort, SerialPortOptions } from "./tb-gw-extension.d.ts";

/** Where the connector answers RPCs by calling sendRpcReply (the host resolves its waiting request). */
export type RpcReplySink = (device: string | undefined, requestId: number | string, content: unknown) => boolean;

export function extensionLogger(log: Logger): ExtensionLogger {
  return {
    debug: (m) => log.debug(String(m)),
    info: (m) => log.info(String(m)),
    warning: (m) => log.warn(String(m)),
    warn: (m) => log.warn(String(m)),
    error: (m) => log.error(String(m)),
    exception: (m, e) => log.error(e === undefined ? String(m) : `${m}: ${errorText(e)}`),
  };
}

export function gatewayFor(ctx: ConnectorContext, takeRpcReply: RpcReplySink): Gateway {
  const log = extensionLogger(ctx.log);
  let badData = false;
  const request = (scope: "shared" | "client") => async (device: string, keys: string[], callback?: (v: KeyValues | undefined, e?: Error) => void) => {
    try {
      const values = await ctx.requestAttributes(device, keys, scope);
      callback?.(values);
      return values;
    } catch (e) {
      const err = e instanceof Error ? e : new Error(errorText(e));
      if (!callback) throw err;
      callback(undefined, err);
      return {};
    }
  };
  return {
    async sendToStorage(_connectorName: string, _connectorId: string, data: unknown): Promise<SendStatus> {
      // The connector's own name and id are the context's: a connector cannot send as another one.
      const list = normalizeConverted(data);
      if (typeof list === "string") {
        // logged once per change from good to bad data, not per call
        if (!badData) log.warning(`sendToStorage got data without a deviceName (expected {deviceName, deviceType, attributes, telemetry} or a list of them); not stored`);
        badData = true;
        return "FAILURE";
      }
      badData = false;
      return ctx.sendData(list.length === 1 ? list[0]! : list);
    },
    sendRpcReply(device, requestId, content) {
      if (!takeRpcReply(device, requestId, content) && device !== undefined) ctx.sendRpcReply(device, requestId, content);
    },
    requestSharedAttributes: request("shared"),
    requestClientAttributes: request("client"),
    addDevice: (name: string, typeOrContent?: string | object, deviceType?: string) =>
      ctx.addDevice(name, typeof typeOrContent === "string" ? typeOrContent : deviceType),
    delDevice: (name) => ctx.delDevice(name),
    getConfigPath: () => (ctx.configDir.endsWith("/") ? ctx.configDir : `${ctx.configDir}/`),
    log,
    openSerial: (port, options) => openSerial(port, options ?? {}),
  };
}

async function openSerial(port: string, o: SerialPortOptions): Promise<SerialPort> {
  // the device-file serial port shared with Modbus and CAN (works in the binary; no native addon)
  const { SerialFileStream } = await import("../modbus/serial-file.ts");
  const stream = new SerialFileStream(port, { baudrate: o.baudrate ?? 9600, bytesize: o.bytesize ?? 8, parity: o.parity ?? "N", stopbits: o.stopbits ?? 1 });
  await stream.open();
  return {
    onData: (cb) => stream.onData(cb),
    onEnd: (cb) => stream.onEnd(cb),
    write: (data) => stream.write(typeof data === "string" ? Buffer.from(data) : data),
    close: () => stream.close(),
  };
}
