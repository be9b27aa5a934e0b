// Child of jit-policy.test.ts: two functions of the same body, `kept` called twice as often as
// `control`, and only `kept` handed to keepOutOfTopTier. Runs until killed; the test reads JSC's
// compile report (BUN_JSC_reportCompileTimes) on stderr.
import { keepOutOfTopTier } from "./jit-policy.ts";

function kept(a: number): number {
  let s = 0;
  for (let i = 0; i < 50; i++) s += (a * i) % 7;
  return s;
}

function control(a: number): number {
  let s = 0;
  for (let i = 0; i < 50; i++) s += (a * i) % 7;
  return s;
}

keepOutOfTopTier([kept]);
let sink = 0;
for (;;) {
  for (let i = 0; i < 10_000; i++) sink += kept(i) + kept(i + 1) + control(i);
  // yield now and then, so SIGTERM is handled
  await Bun.sleep(0);
  if (sink < 0) break;
}
