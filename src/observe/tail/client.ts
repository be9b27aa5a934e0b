// Client side of the status socket: find it, ask for status, subscribe to events.

import { existsSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { resolve } from "node:path";
import { type Discovery, defaultSocketPath, discoveryFile, listDiscoveries, pidAlive, readDiscovery } from "../status/paths.ts";
import type { ServerLine, StatusSnapshot, SubscribeKind } from "../status/protocol.ts";
import { errorText } from "../logger.ts";

export class NoGatewayError extends Error {}

/** One line per running gateway, for the lists `tail` prints. */
export function describeGateway(d: Discovery): string {
  const pick = d.instance !== undefined ? `--instance ${d.instance}` : `--socket ${d.socket}`;
  return `  ${pick.padEnd(16)} pid ${d.pid}, ${d.configPath}${d.instance !== undefined ? `, socket ${d.socket}` : ""}`;
}

/** Gateways in a stable order for lists: by config, then instance (1, 2, 10), plain gateway first. */
export function byConfigAndInstance(ds: Discovery[]): Discovery[] {
  return [...ds].sort((a, b) => a.configPath.localeCompare(b.configPath) || (a.instance ?? "").localeCompare(b.instance ?? "", undefined, { numeric: true }));
}

/**
 * The socket to attach to: --socket, else the running gateway of --instance (and --config's folder,
 * when given), else the discovery file of --config's folder, else the default socket, else the only
 * running gateway's. Several candidates and no choice → an error listing them.
 */
export function findSocket(opts: { socket?: string; configDir?: string; instance?: string }): string {
  if (opts.socket) return opts.socket;
  const live = listDiscoveries();
  const list = (ds: Discovery[]) => byConfigAndInstance(ds).map(describeGateway).join("\n");
  if (opts.instance !== undefined) {
    if (opts.configDir) {
      const d = readDiscovery(discoveryFile(opts.configDir, opts.instance));
      if (d && pidAlive(d.pid)) return d.socket;
    }
    const same = live.filter((d) => d.instance === opts.instance && (!opts.configDir || resolve(d.configDir) === resolve(opts.configDir)));
    if (same.length === 1) return same[0]!.socket;
    if (same.length > 1) throw new NoGatewayError(`several gateways run as instance ${opts.instance}; name the config with --config:\n${list(same)}`);
    throw new NoGatewayError(`no running gateway is instance ${opts.instance}${opts.configDir ? ` of ${opts.configDir}` : ""}${live.length ? `; running:\n${list(live)}` : ""}`);
  }
  if (opts.configDir) {
    const d = readDiscovery(discoveryFile(opts.configDir));
    if (d && pidAlive(d.pid)) return d.socket;
    const instances = live.filter((x) => x.instance !== undefined && resolve(x.configDir) === resolve(opts.configDir!));
    if (instances.length) throw new NoGatewayError(`${instances.length} instances run on config folder ${opts.configDir}; choose one:\n${list(instances)}`);
    throw new NoGatewayError(`no running gateway for config folder ${opts.configDir} (no live discovery file ${discoveryFile(opts.configDir)}). Start one with: tb-gw run --config ${opts.configDir}/tb_gateway.json`);
  }
  const dflt = defaultSocketPath();
  if (existsSync(dflt) && (live.length === 0 || live.some((d) => d.socket === dflt))) return dflt;
  if (live.length === 1) return live[0]!.socket;
  if (live.length > 1) throw new NoGatewayError(`several gateways are running; choose one:\n${list(live)}`);
  throw new NoGatewayError(`no running gateway found (no socket at ${dflt}). Start one with: tb-gw run, or pass --socket PATH`);
}

export function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once("connect", () => {
      s.removeAllListeners("error");
      resolve(s);
    });
    s.once("error", (e: NodeJS.ErrnoException) => {
      const why = e.code === "ENOENT" ? "no such socket" : e.code === "ECONNREFUSED" ? "nothing listens on it (gateway stopped?)" : e.code === "EACCES" ? "permission denied (run as the gateway's user or group)" : errorText(e);
      reject(new NoGatewayError(`cannot attach to the gateway at ${path}: ${why}`));
    });
  });
}

/** Split a socket's text into parsed lines. Malformed lines are skipped. */
export function onLines(s: Socket, cb: (line: ServerLine) => void): void {
  s.setEncoding("utf8");
  let buf = "";
  s.on("data", (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line) continue;
      try {
        cb(JSON.parse(line) as ServerLine);
      } catch {
        // a partial or foreign line; the protocol is line-framed, so the next one is fine
      }
    }
  });
}

export async function fetchStatus(path: string): Promise<StatusSnapshot> {
  const s = await connect(path);
  return new Promise((resolve, reject) => {
    onLines(s, (l) => {
      if (l.kind === "status") resolve(l);
      else if (l.kind === "error") reject(new Error(l.message));
    });
    s.once("close", () => reject(new Error("the gateway closed the status connection without an answer")));
    s.write(`${JSON.stringify({ cmd: "status" })}\n`);
  });
}

export interface Subscription {
  socket: Socket;
  /** Resolves when the gateway ends the stream (stopped), the socket fails, or close() ended it ("closed"). */
  closed: Promise<"gateway-stopped" | "error" | "closed">;
  close(): void;
}

export async function subscribe(path: string, kinds: SubscribeKind[], cb: (l: ServerLine) => void): Promise<Subscription> {
  const s = await connect(path);
  let closedByUs = false;
  const closed = new Promise<"gateway-stopped" | "error" | "closed">((resolve) => {
    let failed = false;
    s.on("error", () => (failed = true));
    s.on("close", () => resolve(closedByUs ? "closed" : failed ? "error" : "gateway-stopped"));
  });
  onLines(s, cb);
  s.write(`${JSON.stringify({ cmd: "subscribe", kinds })}\n`);
  return {
    socket: s,
    closed,
    close() {
      closedByUs = true;
      s.destroy();
    },
  };
}
