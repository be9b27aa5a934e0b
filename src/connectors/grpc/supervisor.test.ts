// The supervised child process on its own (Debian's python3 as the child): restarts with the
// backoff, a crash loop's errors logged once, SIGTERM then SIGKILL at stop for a process that
// ignores SIGTERM, and no restart after stop.

import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { addLogSink, Logger, setStderrLogging, type LogRecord } from "../../observe/logger.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { ProcessSupervisor } from "./supervisor.ts";
import { PYTHON } from "./test/peer.ts";

const records: LogRecord[] = [];
let unsink: () => void;
beforeAll(() => {
  unsink = addLogSink((r) => records.push(r));
  setStderrLogging(false);
});
afterAll(() => {
  unsink();
  setStderrLogging(true);
});
const started: ProcessSupervisor[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.stop();
  records.length = 0;
});

function supervise(scope: string, code: string, opts: { backoffMs?: number[]; termGraceMs?: number } = {}): ProcessSupervisor {
  const s = new ProcessSupervisor({ command: PYTHON, args: ["-c", code], env: { ...process.env, PYTHONUNBUFFERED: "1" }, log: new Logger(scope, "DEBUG"), what: "test process", ...opts });
  started.push(s);
  return s;
}

const lines = (scope: string, level?: string) => records.filter((r) => r.scope === scope && (!level || r.level === level)).map((r) => r.message);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("a process that keeps failing: started again with the backoff; its error and the exit are logged once, the repeats at debug", async () => {
  const s = supervise("loop", "import sys\nprint('ERROR cannot open /dev/ttyX', file=sys.stderr)\nsys.exit(3)", { backoffMs: [50, 100] });
  s.start();
  await waitUntil(() => lines("loop").filter((l) => l.startsWith("test process started")).length >= 4, 20_000, "four runs");
  expect(lines("loop", "ERROR")).toEqual(["cannot open /dev/ttyX"]);
  expect(lines("loop", "WARNING")).toEqual(["test process exited with code 3; starting it again in 0.05 s"]);
  expect(lines("loop", "DEBUG")).toContain("cannot open /dev/ttyX");
  expect(lines("loop", "DEBUG")).toContain("test process exited with code 3; starting it again in 0.1 s");
});

test("stop: SIGTERM, then SIGKILL after the grace period for a process that ignores SIGTERM; no restart after", async () => {
  const s = supervise("stubborn", "import signal, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('INFO ready', flush=True)\nwhile True: time.sleep(1)", { termGraceMs: 500 });
  s.start();
  await waitUntil(() => lines("stubborn", "INFO").includes("ready"), 20_000, "the process to be ready");
  const pid = s.pid!;
  expect(alive(pid)).toBe(true);
  await s.stop();
  expect(alive(pid)).toBe(false);
  expect(lines("stubborn", "WARNING")).toEqual([`test process (pid ${pid}) did not end within 0.5 s of SIGTERM: sending SIGKILL`]);
  expect(lines("stubborn", "INFO")).toContain("test process was ended by signal SIGKILL (gateway stopping)");
  expect(s.pid).toBeUndefined();
});

test("a missing interpreter: one clear line, retried with the backoff", async () => {
  const s = new ProcessSupervisor({ command: "/nonexistent/python3", args: [], env: {}, log: new Logger("missing", "DEBUG"), what: "test process", backoffMs: [50] });
  started.push(s);
  s.start();
  await waitUntil(() => lines("missing").length >= 3, 10_000, "a few attempts");
  expect(lines("missing", "WARNING")).toHaveLength(1);
  expect(lines("missing", "WARNING")[0]).toMatch(/^test process could not be started: .*ENOENT.*; starting it again in 0.05 s$/);
});
