import { expect, test } from "bun:test";
import type { Gateway } from "../core/gateway.ts";
import { BUSY_DATAPOINTS, BUSY_RECORDS, restoreJitPolicyWhenBusy } from "./jit-policy.ts";

function fakeGateway(stored: () => number, datapoints: () => number = () => 0): Gateway {
  const stats = new Map([["MQTT", { get recordsStored() { return stored(); }, get datapointsReceived() { return datapoints(); } }]]);
  return { pipeline: { stats } } as unknown as Gateway;
}

/** The policies restoreJitPolicyWhenBusy set for `gw`, once it set one. */
async function policiesSet(gw: Gateway): Promise<number[]> {
  const calls: number[] = [];
  let checked!: () => void;
  const restored = new Promise<void>((r) => (checked = r));
  const stop = restoreJitPolicyWhenBusy(gw, (scale) => {
    calls.push(scale);
    checked();
  });
  try {
    await restored;
    return calls;
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
  expect(await policiesSet(gw)).toEqual([1]);
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
  expect(await policiesSet(gw)).toEqual([1]);
});

test("what must happen before the data path compiles (the start-up shrink) runs first, once", async () => {
  const order: string[] = [];
  let restored!: () => void;
  const done = new Promise<void>((r) => (restored = r));
  const stop = restoreJitPolicyWhenBusy(
    fakeGateway(() => BUSY_RECORDS),
    (scale) => {
      order.push(`policy ${scale}`);
      restored();
    },
    () => order.push("before"),
  );
  try {
    await done;
    await Bun.sleep(1100); // one more check period: nothing runs again
    expect(order).toEqual(["before", "policy 1"]);
  } finally {
    stop();
  }
});
