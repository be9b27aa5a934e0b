// The transport's fix for stale ICMP errors: a datagram to a closed port must not cost the next
// datagram (under Bun the next send reports the error and is dropped).
import { createSocket } from "node:dgram";
import { expect, test } from "bun:test";
import { freeUdpPort } from "../../../test/support/ports.ts";
import { BacnetTransport } from "./transport.ts";

test("a send after one to a closed port still arrives", async () => {
  const live = createSocket("udp4");
  const got: string[] = [];
  let notify = () => {};
  live.on("message", (m) => {
    got.push(m.toString());
    notify();
  });
  await new Promise<void>((r) => live.bind(0, "127.0.0.2", r));
  const t = new BacnetTransport({ port: await freeUdpPort("127.0.0.1"), interface: "127.0.0.1", broadcastAddress: "127.0.0.255" });
  const errors: Error[] = [];
  t.on("error", (e) => errors.push(e));
  await new Promise<void>((r) => {
    t.once("listening", () => r());
    t.open();
  });
  try {
    const closed = `127.0.0.2:${await freeUdpPort("127.0.0.2")}`;
    const to = `127.0.0.2:${live.address().port}`;
    const all = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`got only ${JSON.stringify(got)}; errors ${errors.map((e) => e.message)}`)), 3000);
      notify = () => got.length === 5 && (clearTimeout(timer), resolve());
    });
    for (let i = 0; i < 5; i++) {
      t.send(Buffer.from(`dead ${i}`), 6, closed);
      t.send(Buffer.from(`live ${i}`), 6, to);
    }
    await all;
    expect(got.sort()).toEqual(["live 0", "live 1", "live 2", "live 3", "live 4"]);
  } finally {
    t.close();
    live.close();
  }
});
