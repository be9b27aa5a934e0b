// Reconnect pacing: an unreachable peer is retried at least every 4 s (3–5 s with jitter), a
// refusing one backs off to 30 s, and at the cap the log says so once a minute instead of per try.

import { expect, test } from "bun:test";
import { capturingLogger } from "../../storage/contract-data.ts";
import { freePort } from "../../../test/support/ports.ts";
import { backoffDelay, DEFAULT_BACKOFF, openConnection } from "./connection.ts";

test("unreachable: 0.5, 1, 2, 4 s, then every 4 s ±25 %; refused: grows to 30 s", () => {
  const mid = () => 0.5;
  expect(Array.from({ length: 8 }, (_, n) => backoffDelay(n, DEFAULT_BACKOFF, mid))).toEqual([500, 1000, 2000, 4000, 4000, 4000, 4000, 4000]);
  for (const r of [0, 0.999]) {
    const d = backoffDelay(50, DEFAULT_BACKOFF, () => r);
    expect(d).toBeGreaterThanOrEqual(3000);
    expect(d).toBeLessThanOrEqual(5000);
  }
  expect(Array.from({ length: 8 }, (_, n) => backoffDelay(n, DEFAULT_BACKOFF, mid, true))).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
});

test("retries at the cap are not logged one by one", async () => {
  const port = await freePort(); // nothing listens: every attempt fails at once
  const { log, records, stop } = capturingLogger();
  const conn = openConnection({ host: "127.0.0.1", port, clientId: "backoff-test", keepaliveSeconds: 10 }, log, "peer", {}, { minMs: 5, maxMs: 20 });
  let closes = 0;
  try {
    await new Promise<void>((resolve) =>
      conn.client.on("close", () => {
        if (++closes === 12) resolve();
      }),
    );
  } finally {
    await conn.close(true);
    stop();
  }
  // 5, 10, 20 ms (the cap reached) are logged; the nine tries at the cap after them are not
  const lines = records.filter((r) => r.level === "WARNING").map((r) => r.message);
  expect(lines).toHaveLength(3);
  expect(lines[0]).toMatch(/^peer: .*ECONNREFUSED.*; retrying in 0\.0 s \(attempt 1\)$/);
});
