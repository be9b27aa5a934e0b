// `tb-gw run --demo`: simulated devices → MQTT connector → embedded platform endpoint, with no
// external service; SIGTERM stops it with exit code 0.

import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, CLI } from "../support/gateway.ts";
import { freePort } from "../support/ports.ts";
import { startProcess } from "../support/process.ts";

test("the demo shows live telemetry arriving at its local platform, and stops cleanly", async () => {
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), "tbgw-demo-"));
  const gw = await startProcess(BUN, [CLI, "run", "--demo", "--demo-port", String(port)], {
    ready: /demo platform received [1-9]\d* datapoints — .*temperature=/,
    timeoutMs: 30000,
    env: { XDG_STATE_HOME: state, XDG_RUNTIME_DIR: state },
  });
  try {
    expect(gw.output()).toContain(`127.0.0.1:${port}`);
    expect(gw.output()).toMatch(/thermometer-1: .*humidity=/);
  } finally {
    const exited = new Promise<number | null>((r) => gw.proc.once("exit", (code) => r(code)));
    await gw.stop("SIGTERM");
    expect(await exited).toBe(0);
  }
}, 40000);
