// One gateway per storage folder. A second `tb-gw run` on the same config (a manual start beside the
// systemd service, say) started without a word, and both wrote the same database with row ids each
// counted in memory: the second one's commits failed on ids the first had taken ("UNIQUE constraint
// failed", its records held in memory and retried, unacknowledged to their devices), and each
// deletes the id ranges it believes it sent, which may hold the other's rows.
// The folder's owner is recorded in a file beside the data (.tb-gw.lock, holding its pid); a start
// that finds a live tb-gw there is refused with the fix. The lock of a gateway that died (kill -9, a
// power cut) names a process that no longer runs, or another program after a reboot, and is taken
// over. Storages of one process may share a folder (a storage reopened after remote configuration).

import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

export const CLAIM_FILE = ".tb-gw.lock";

/** Claims this process holds, by lock file: the file goes with the last of them. */
const held = new Map<string, number>();

/** Claims `dir` for this process; returns the release. Throws, naming the other gateway and the fix, when one runs on it. */
export function claimFolder(dir: string, setting: string): () => void {
  const path = join(dir, CLAIM_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return hold(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") return () => {}; // a folder we cannot mark is still used: the claim is a guard, not a requirement
    }
    const owner = ownerOf(path);
    if (owner === process.pid) return hold(path);
    if (owner !== undefined && isGatewayRunning(owner)) {
      throw new Error(
        `${setting}: ${dir} is used by another tb-gw (pid ${owner}); two gateways on one storage folder break each other's writes and may delete each other's unsent records. ` +
          `Stop that one, or run this one as another instance (--instance ID gives it a storage folder of its own)`,
      );
    }
    rmSync(path, { force: true }); // left by a gateway that no longer runs
  }
  throw new Error(`${setting}: cannot claim ${dir}: another gateway claimed it at the same moment; start one at a time`);
}

function ownerOf(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8"), 10);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** A live process whose command line runs a gateway (after a reboot the pid may be another program's). */
function isGatewayRunning(pid: number): boolean {
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return false;
  }
  return args.includes("run");
}

function hold(path: string): () => void {
  held.set(path, (held.get(path) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (held.get(path) ?? 1) - 1;
    if (left > 0) return void held.set(path, left);
    held.delete(path);
    if (ownerOf(path) === process.pid) rmSync(path, { force: true });
  };
}
