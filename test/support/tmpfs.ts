// A small RAM filesystem for disk-full tests: `mount -t tmpfs -o size=…` on a fresh temp folder,
// always unmounted afterwards. Needs root (CAP_SYS_ADMIN); tmpfsUnavailable() says why not.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let probed: { reason?: string } | undefined;

/** Why a tmpfs cannot be mounted here (for a test skip), or undefined when it can. */
export function tmpfsUnavailable(): string | undefined {
  if (!probed) {
    try {
      const dir = mount(64);
      unmount(dir);
      probed = {};
    } catch (e) {
      probed = { reason: `mount -t tmpfs is not permitted here (${e instanceof Error ? e.message : String(e)}); run as root` };
    }
  }
  return probed.reason;
}

/** Run `fn` on a folder that is a tmpfs of `sizeKiB` KiB; unmounted (lazily if busy) afterwards. */
export async function withTmpfs<T>(sizeKiB: number, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mount(sizeKiB);
  try {
    return await fn(dir);
  } finally {
    unmount(dir);
  }
}

function mount(sizeKiB: number): string {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-tmpfs-"));
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${sizeKiB}k`, "tmpfs", dir], { encoding: "utf8" });
  if (r.status !== 0) {
    rmdirSync(dir);
    throw new Error((r.stderr || r.error?.message || `exit ${r.status}`).trim());
  }
  return dir;
}

function unmount(dir: string): void {
  const r = spawnSync("umount", [dir], { encoding: "utf8" });
  if (r.status !== 0) spawnSync("umount", ["-l", dir]);
  try {
    rmdirSync(dir);
  } catch {
    // still busy after a lazy unmount: an empty folder in the temp dir is harmless
  }
}

/**
 * `p`, or a rejection naming `what` after `ms`. Waits inside withTmpfs() are bounded below the
 * test's timeout so that a hang fails the test and the unmount in `finally` still runs (a test
 * runner timeout abandons the test's code where it waits).
 */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}
