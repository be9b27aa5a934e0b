// Where the status socket lives and how `tb-gw tail` finds it.
// Default socket: $XDG_RUNTIME_DIR/tb-gw.sock, else /tmp/tb-gw-<uid>.sock. A second gateway of the
// same user gets its own socket (tb-gw-<pid>.sock beside the default). Every gateway also writes a
// discovery file named after its config folder into the discovery folder, so
// `tail --config DIR` picks the right one and `tail` alone can list what runs. An instance N
// (`run --instance N`) listens on tb-gw@N.sock and its discovery file is keyed by folder and id, so
// `tail --instance N` finds it.

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export interface Discovery {
  socket: string;
  pid: number;
  configDir: string;
  configPath: string;
  startedAt: number;
  /** Instance id, when the gateway runs as one of several on one config. */
  instance?: string;
}

const uid = () => process.getuid?.() ?? 0;

function runtimeDir(): string | undefined {
  const d = process.env.XDG_RUNTIME_DIR;
  return d && d.startsWith("/") ? d : undefined;
}

export function defaultSocketPath(instance?: string): string {
  const rt = runtimeDir();
  const at = instance === undefined ? "" : `@${instance}`;
  return rt ? join(rt, `tb-gw${at}.sock`) : join(tmpdir(), `tb-gw-${uid()}${at}.sock`);
}

/** Socket path used when the default one is held by another live gateway. */
export function perProcessSocketPath(pid = process.pid): string {
  const rt = runtimeDir();
  return rt ? join(rt, `tb-gw-${pid}.sock`) : join(tmpdir(), `tb-gw-${uid()}-${pid}.sock`);
}

export function discoveryDir(): string {
  const rt = runtimeDir();
  return rt ? join(rt, "tb-gw") : join(tmpdir(), `tb-gw-${uid()}.d`);
}

export function discoveryFile(configDir: string, instance?: string): string {
  // Bun's hasher, not node:crypto: the same digest without loading that module into the gateway
  const key = new Bun.CryptoHasher("sha1").update(resolve(configDir)).digest("hex").slice(0, 16);
  return join(discoveryDir(), instance === undefined ? `${key}.json` : `${key}@${instance}.json`);
}

export function writeDiscovery(d: Discovery): string {
  const file = discoveryFile(d.configDir, d.instance);
  mkdirSync(discoveryDir(), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(d), { mode: 0o600 });
  renameSync(tmp, file);
  return file;
}

/** Remove our discovery file, unless another gateway has replaced it since. */
export function removeDiscovery(configDir: string, instance?: string, pid = process.pid): void {
  const file = discoveryFile(configDir, instance);
  const d = readDiscovery(file);
  if (d && d.pid === pid) rmSync(file, { force: true });
}

export function readDiscovery(file: string): Discovery | undefined {
  try {
    const d = JSON.parse(readFileSync(file, "utf8"));
    return d && typeof d.socket === "string" && typeof d.pid === "number" ? (d as Discovery) : undefined;
  } catch {
    return undefined;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Remove what gateways killed before they could clean up left behind: per-process sockets
 * (tb-gw-<pid>.sock) and discovery files of processes that no longer run. The default socket is
 * handled where it is opened (it may be reused). Nothing of a live process is touched; errors are
 * ignored (another gateway may be doing the same). Returns how many files went.
 */
export function removeLeftovers(): number {
  let removed = 0;
  const rm = (path: string) => {
    try {
      rmSync(path);
      removed++;
    } catch {
      // gone already, or not ours to remove
    }
  };
  const rt = runtimeDir();
  const socketDir = rt ?? tmpdir();
  const perProcess = rt ? /^tb-gw-(\d+)\.sock$/ : new RegExp(`^tb-gw-${uid()}-(\\d+)\\.sock$`);
  for (const name of safeList(socketDir)) {
    const m = perProcess.exec(name);
    if (m && !pidAlive(Number(m[1]))) rm(join(socketDir, name));
  }
  for (const { file, d } of discoveryFiles()) if (!pidAlive(d.pid)) rm(file);
  return removed;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Every readable discovery file, of live gateways and dead ones. */
function discoveryFiles(): Array<{ file: string; d: Discovery }> {
  const out: Array<{ file: string; d: Discovery }> = [];
  for (const n of safeList(discoveryDir())) {
    if (!n.endsWith(".json")) continue;
    const file = join(discoveryDir(), n);
    const d = readDiscovery(file);
    if (d) out.push({ file, d });
  }
  return out;
}

/** Discovery files of gateways that still run. */
export function listDiscoveries(): Discovery[] {
  return discoveryFiles()
    .map((e) => e.d)
    .filter((d) => pidAlive(d.pid))
    .sort((a, b) => b.startedAt - a.startedAt);
}
