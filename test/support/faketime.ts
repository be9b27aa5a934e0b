// A faked wall clock for a gateway process: libfaketime (Debian package libfaketime) preloaded,
// reading its offset from a file that the test rewrites while the gateway runs ("-1h", "+1d").
// The monotonic clock stays real (FAKETIME_DONT_FAKE_MONOTONIC), as it does when NTP or an
// operator steps a real system clock.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const LIB = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1"].find((p) => existsSync(p));

/** Why a faked clock is not possible here, or undefined. */
export const faketimeUnavailable = (): string | undefined => (LIB ? undefined : "libfaketime is not installed (test/install-peers.sh)");

export interface FakeClock {
  /** Environment for the process whose clock is faked. */
  env: Record<string, string>;
  /** Step the process's wall clock to `offset` from the real time ("+0", "-1h", "+1d"). */
  set(offset: string): void;
}

export function fakeClock(): FakeClock {
  const file = join(mkdtempSync(join(tmpdir(), "tbgw-faketime-")), "offset");
  writeFileSync(file, "+0\n");
  return {
    env: { LD_PRELOAD: LIB!, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_NO_CACHE: "1", FAKETIME_DONT_FAKE_MONOTONIC: "1" },
    set: (offset) => writeFileSync(file, `${offset}\n`),
  };
}
