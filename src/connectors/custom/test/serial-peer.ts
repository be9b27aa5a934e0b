// The serial device side for tests: a socat pty pair (the gateway's custom connector opens `gatewayPath`),
// the test reads and writes the other end as text.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SerialFileStream } from "../../modbus/serial-file.ts";
import { startPtyPair } from "../../modbus/test/peer.ts";
import { waitUntil } from "../../../../test/support/poll.ts";

export interface SerialPeer {
  gatewayPath: string;
  /** Everything the gateway wrote so far. */
  received(): string;
  write(text: string): void;
  until(pred: (text: string) => boolean, what: string, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startSerialPeer(): Promise<SerialPeer> {
  const pty = await startPtyPair(mkdtempSync(join(tmpdir(), "tbgw-custom-pty-")));
  const stream = new SerialFileStream(pty.b, { baudrate: 9600, bytesize: 8, parity: "N", stopbits: 1 });
  let text = "";
  stream.onData((d) => (text += Buffer.from(d).toString("latin1")));
  stream.onEnd(() => {});
  await stream.open();
  return {
    gatewayPath: pty.a,
    received: () => text,
    write: (t) => stream.write(Buffer.from(t, "latin1")),
    async until(pred, what, timeoutMs = 15_000) {
      try {
        await waitUntil(() => pred(text), timeoutMs, what);
      } catch (e) {
        throw new Error(`${(e as Error).message}; the device got: ${JSON.stringify(text)}`);
      }
      return text;
    },
    async stop() {
      await stream.close();
      await pty.proc.stop();
    },
  };
}
