// For the few waits where there is no event to wait on (a counter inside a connector under test):
// check `pred` every `stepMs` until it holds, or fail after `timeoutMs` naming what was awaited.

// `pred` may be async (a count read from the status socket): the next check starts after it settled.
export function waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string, stepMs = 20): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = async () => {
      try {
        if (await pred()) return resolve();
      } catch (e) {
        return reject(e);
      }
      if (Date.now() - start > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, stepMs);
    };
    void tick();
  });
}
