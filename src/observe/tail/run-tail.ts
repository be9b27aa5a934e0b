// `tb-gw tail`: attach to a running gateway and show live traffic, as an Ink view on a terminal
// or as JSON lines (one object per datapoint or downlink message) otherwise.
// Exit codes: 0 on Ctrl-C or when the gateway stops (a message says which), 1 when no gateway
// can be reached.

import { dirname, resolve } from "node:path";
import type { ServerLine, StatusSnapshot, SubscribeKind } from "../status/protocol.ts";
import { listDiscoveries } from "../status/paths.ts";
import { byConfigAndInstance, describeGateway, findSocket, subscribe } from "./client.ts";
import { makeFilter, rowsOf, type Row } from "./rows.ts";
import { errorText } from "../logger.ts";

export interface TailOptions {
  socket?: string;
  config?: string;
  device?: string[];
  key?: string[];
  json?: boolean;
  instance?: string;
  list?: boolean;
}

const KINDS: SubscribeKind[] = ["uplink", "downlink", "status"];

export async function runTail(opts: TailOptions): Promise<number> {
  if (opts.list) return listGateways(opts.config ? configDirOf(opts.config) : undefined);
  let path: string;
  try {
    path = findSocket({ socket: opts.socket, configDir: opts.config ? configDirOf(opts.config) : undefined, instance: opts.instance ?? (process.env.TB_GW_INSTANCE || undefined) });
  } catch (e) {
    process.stderr.write(`tb-gw tail: ${errorText(e)}\n`);
    return 1;
  }
  const json = opts.json || !process.stdout.isTTY;
  const keep = makeFilter({ device: opts.device, key: opts.key });
  return json ? runJson(path, keep) : runInk(path, keep);
}

/** `tail --list`: the running gateways (of one config folder, with --config), one per line; exit 1 when none. */
function listGateways(configDir: string | undefined): number {
  const live = listDiscoveries().filter((d) => !configDir || resolve(d.configDir) === configDir);
  if (!live.length) {
    process.stderr.write(`tb-gw tail: no running gateway${configDir ? ` for config folder ${configDir}` : ""}\n`);
    return 1;
  }
  process.stdout.write(`${byConfigAndInstance(live).map(describeGateway).join("\n")}\n`);
  return 0;
}

function configDirOf(p: string): string {
  return p.endsWith(".json") || p.endsWith(".yaml") || p.endsWith(".yml") ? dirname(resolve(p)) : resolve(p);
}

/** One JSON object per line on stdout; status goes to nowhere (it is for the header only). */
async function runJson(path: string, keep: (r: Row) => boolean): Promise<number> {
  let lost = 0;
  const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
  let sub;
  try {
    sub = await subscribe(path, ["uplink", "downlink"], (l: ServerLine) => {
      if (l.kind === "lost") {
        lost += l.count;
        process.stderr.write(`tb-gw tail: output too slow, ${l.count} events skipped\n`);
        return;
      }
      if (l.kind === "status" || l.kind === "error") return;
      for (const r of rowsOf(l)) {
        if (!keep(r)) continue;
        out({ type: r.kind, ts: r.ts, device: r.device, key: r.key, value: r.value, ...(r.connector ? { connector: r.connector } : {}) });
      }
    });
  } catch (e) {
    process.stderr.write(`tb-gw tail: ${errorText(e)}\n`);
    return 1;
  }
  process.stdout.on("error", () => sub.close()); // reader went away (| head): end quietly
  const interrupted = new Promise<"interrupted">((resolve) => {
    process.once("SIGINT", () => resolve("interrupted"));
    process.once("SIGTERM", () => resolve("interrupted"));
  });
  const why = await Promise.race([sub.closed, interrupted]);
  sub.close();
  if (why === "gateway-stopped") process.stderr.write("tb-gw tail: the gateway stopped\n");
  else if (why === "error") process.stderr.write("tb-gw tail: lost the connection to the gateway\n");
  if (lost) process.stderr.write(`tb-gw tail: ${lost} events were skipped because output was too slow\n`);
  return 0;
}

async function runInk(path: string, keep: (r: Row) => boolean): Promise<number> {
  // Ink draws only the final frame when CI / CONTINUOUS_INTEGRATION is set; on a real terminal
  // the live view was asked for, so tell Ink (read once when it loads) that this is no CI.
  for (const k of ["CI", "CONTINUOUS_INTEGRATION"]) if (k in process.env) process.env[k] = "false";
  const { startInkTail } = await import("./view.ts");
  let sub;
  const view = await startInkTail({ socketPath: path });
  try {
    sub = await subscribe(path, KINDS, (l: ServerLine) => {
      if (l.kind === "status") view.status(l as StatusSnapshot);
      else if (l.kind === "lost") view.lost(l.count);
      else if (l.kind !== "error") view.rows(rowsOf(l).filter(keep));
    });
  } catch (e) {
    view.unmount();
    process.stderr.write(`tb-gw tail: ${errorText(e)}\n`);
    return 1;
  }
  const why = await Promise.race([sub.closed, view.exited.then(() => "quit" as const)]);
  sub.close();
  view.unmount();
  if (why === "gateway-stopped") process.stderr.write("tb-gw tail: the gateway stopped\n");
  else if (why === "error") process.stderr.write("tb-gw tail: lost the connection to the gateway\n");
  return 0;
}
