// Slave mode over Modbus TCP: MBAP-framed requests on each connection, answered from the slave-mode
// register store (slave-pdu.ts, shared with UDP and serial), every unit id answered. In place of
// modbus-serial's ServerTCP, the last part of modbus-serial we used (the master is ours, client/).

import { createServer, type Socket } from "node:net";
import { errorText, type Logger } from "../../observe/logger.ts";
import { answerPdu, type PduWrite } from "./slave-pdu.ts";
import type { RegisterStore } from "./slave-store.ts";

/** Longest MBAP length field (unit id + PDU of at most 253 bytes). */
const MAX_LENGTH = 254;

export async function startTcpSlave(host: string, port: number, store: RegisterStore, log: Logger, onWrite?: (w: PduWrite) => void): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    sock.on("data", (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      let at = 0;
      while (buf.length - at >= 7) {
        const length = buf.readUInt16BE(at + 4);
        if (buf.readUInt16BE(at + 2) !== 0 || length < 2 || length > MAX_LENGTH) {
          log.debug(`modbus slave tcp: ${sock.remoteAddress}:${sock.remotePort} sent bytes that are not Modbus TCP; closing its connection`);
          sock.destroy();
          return;
        }
        if (buf.length - at < 6 + length) break;
        const { response, write } = answerPdu(store, buf.subarray(at + 7, at + 6 + length));
        if (write) onWrite?.(write);
        const out = Buffer.allocUnsafe(7 + response.length);
        buf.copy(out, 0, at, at + 4); // transaction and protocol id echoed
        out.writeUInt16BE(response.length + 1, 4);
        out[6] = buf[at + 6]!;
        out.set(response, 7);
        sock.write(out);
        at += 6 + length;
      }
      buf = at < buf.length ? Buffer.from(buf.subarray(at)) : Buffer.alloc(0);
    });
    sock.on("error", (e) => log.debug(`modbus slave tcp client ${sock.remoteAddress}:${sock.remotePort}: ${errorText(e)}`));
    sock.on("close", () => sockets.delete(sock));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(new Error(`modbus slave tcp on ${host}:${port}: ${errorText(e)}`)));
    server.listen(port, host, () => resolve());
  });
  server.on("error", (e) => log.warn(`modbus slave tcp on ${host}:${port}: ${errorText(e)}`));
  log.info(`modbus slave server listening on ${host}:${port}`);
  return {
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
