// Slave mode over Modbus/UDP: one MBAP-framed request per datagram, answered from the slave-mode register
// store (slave-pdu.ts) to the sender. Every unit id is answered, as over TCP.

import { createSocket } from "node:dgram";
import { errorText, type Logger } from "../../observe/logger.ts";
import { answerPdu } from "./slave-pdu.ts";
import type { RegisterStore } from "./slave-store.ts";

export async function startUdpSlave(host: string, port: number, store: RegisterStore, log: Logger): Promise<{ close(): Promise<void> }> {
  const sock = createSocket(host.includes(":") ? "udp6" : "udp4");
  sock.on("message", (msg, from) => {
    // MBAP: transaction id, protocol id (0), length (unit id + PDU), unit id; then the PDU.
    const length = msg.length >= 8 ? msg.readUInt16BE(4) : 0;
    if (msg.length < 8 || msg.readUInt16BE(2) !== 0 || length < 2 || msg.length < 6 + length) {
      log.debug(`modbus slave udp: dropped a ${msg.length}-byte datagram from ${from.address}:${from.port} that is not a Modbus request`);
      return;
    }
    const { response } = answerPdu(store, msg.subarray(7, 6 + length));
    const out = Buffer.alloc(7 + response.length);
    msg.copy(out, 0, 0, 4); // transaction and protocol id echoed
    out.writeUInt16BE(response.length + 1, 4);
    out[6] = msg[6]!;
    out.set(response, 7);
    sock.send(out, from.port, from.address);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once("error", (e) => reject(new Error(`modbus slave udp on ${host}:${port}: ${errorText(e)}`)));
    sock.bind(port, host, () => resolve());
  });
  sock.on("error", (e) => log.warn(`modbus slave udp on ${host}:${port}: ${errorText(e)}`));
  log.info(`modbus slave server listening on udp ${host}:${port}`);
  return { close: () => new Promise<void>((r) => sock.close(() => r())) };
}
