import { expect, test } from "bun:test";
import type { Gateway } from "../core/gateway.ts";
import { join } from "node:path";
import { BUN } from "../../test/support/paths.ts";
import { startProcess } from "../../test/support/process.ts";
import { BUSY_DATAPOINTS, BUSY_RECORDS, restoreJitPolicyWhenBusy } from "./jit-policy.ts";

function fakeGateway(stored: () => number, datapoints: () => number = () => 0): Gateway {
  const stats = new Map([["MQTT", { get recordsStored() { return stored(); }, get datapointsReceived() { return datapoints(); } }]]);
  return { pipeline: { stats } } as unknown as Gateway;
}

/**
 * What restoreJitPolicyWhenBusy did for `gw`, in order ("before" for its beforeRestore hook, "policy N"
 * for each policy set), once it set one and `settleMs` more passed.
 */
async function whatRan(gw: Gateway, settleMs = 0): Promise<string[]> {
  const order: string[] = [];
  let checked!: () => void;
  const restored = new Promise<void>((r) => (checked = r));
  const stop = restoreJitPolicyWhenBusy(
    gw,
    (scale) => {
      order.push(`policy ${scale}`);
      checked();
    },
    () => order.push("before"),
  );
  try {
    await restored;
    if (settleMs > 0) await Bun.sleep(settleMs);
    return order;
  } finally {
    stop();
  }
}

test("the normal JIT policy comes back once the gateway has taken in BUSY_RECORDS, and only then", async () => {
  let stored = 0;
  const gw = fakeGateway(() => {
    // each periodic check reads the count: the first one sees an idle gateway, the next a busy one
    const seen = stored;
    stored = BUSY_RECORDS;
    return seen;
  });
  expect(await whatRan(gw)).toEqual(["before", "policy 1"]);
});

test("few records with many datapoints each (a poller) also count as busy: BUSY_DATAPOINTS", async () => {
  let datapoints = 0;
  const gw = fakeGateway(
    () => 10,
    () => {
      // idle at the first check, then many datapoints in few records
      const seen = datapoints;
      datapoints = BUSY_DATAPOINTS;
      return seen;
    },
  );
  expect(await whatRan(gw)).toEqual(["before", "policy 1"]);
});

test("what must happen before the data path compiles (the start-up shrink) runs first, once", async () => {
  // one more check period after the policy came back: nothing runs again
  expect(await whatRan(fakeGateway(() => BUSY_RECORDS), 1100)).toEqual(["before", "policy 1"]);
});

test("keepOutOfTopTier: a function handed to it never reaches FTL, while one half as hot does", async () => {
  // JSC reports each compilation on stderr; the child calls `kept` twice as often as `control`, so
  // without the hint `kept` would reach FTL first. Ready once `control` has.
  const child = await startProcess(BUN, [join(import.meta.dir, "top-tier-child.ts")], {
    ready: /Optimized control#[^\n]* with FTL /,
    timeoutMs: 45_000,
    env: { BUN_JSC_reportCompileTimes: "1" },
  });
  try {
    const out = child.output();
    expect(out).toMatch(/Optimized kept#[^\n]* with DFG /);
    expect(out).not.toMatch(/Optimized kept#[^\n]* with FTL /);
  } finally {
    await child.stop();
  }
}, 60_000);
