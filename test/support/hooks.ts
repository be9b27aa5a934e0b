// Something a test file (or describe block) starts in its hooks and takes down after: the shared
// part of platformForFile, platformForEachTest and worldForFile, so a file declares what it needs in
// one line instead of a `let`, a beforeAll and an afterAll.

import { afterAll, afterEach, beforeAll, beforeEach } from "bun:test";

export interface StartedInHooks<T> {
  /** What `start` gave; throws, naming the helper, before the hooks ran or after it was taken down. */
  current(): T;
  /**
   * `stop` runs when it is taken down (once), before `dispose`: for what still talks to it, such as
   * a gateway started in the file's own beforeAll. Needed because bun runs the after-hooks of one
   * scope in the order they were registered, so the file's afterAll would come after this one.
   */
  beforeDispose(stop: () => unknown): void;
}

/**
 * Registers beforeAll/afterAll (`per: "file"`: the file or the describe it is called in) or
 * beforeEach/afterEach (`per: "test"`) in the current scope. `start` must clean up after itself
 * when it fails halfway (nothing is kept to dispose then). `skip`: start nothing (tests skipped here).
 */
export function startInHooks<T>(name: string, per: "file" | "test", start: () => Promise<T>, dispose: (started: T) => Promise<void>, skip = false): StartedInHooks<T> {
  let started: T | undefined;
  let stopFirst: Array<() => unknown> = [];
  const up = async () => {
    if (!skip) started = await start();
  };
  const down = async () => {
    const [stops, s] = [stopFirst, started];
    [stopFirst, started] = [[], undefined];
    try {
      for (const stop of stops) await stop();
    } finally {
      if (s !== undefined) await dispose(s);
    }
  };
  if (per === "file") {
    beforeAll(up, 60_000);
    afterAll(down);
  } else {
    beforeEach(up, 60_000);
    afterEach(down);
  }
  return {
    current() {
      if (started === undefined) throw new Error(`${name}(): not running (it starts in the test hooks${skip ? " and was skipped on this machine" : ""}; use it inside a test or a later hook)`);
      return started;
    },
    beforeDispose(stop) {
      stopFirst.push(stop);
    },
  };
}
