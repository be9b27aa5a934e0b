// Turns the gateway's event stream into what `tail` shows: one row per datapoint for uplink,
// one row per downlink message, filtered by device and key globs.

import type { WireEvent } from "../status/protocol.ts";

export type RowKind = "telemetry" | "attribute" | "attribute-update" | "rpc" | "rpc-reply";

export interface Row {
  kind: RowKind;
  /** Data timestamp (telemetry ts, else when the gateway saw it), ms. */
  ts: number;
  device: string;
  key: string;
  value: unknown;
  connector?: string;
}

/** Shell-style glob: * any run, ? one character, [abc] a set. Case-sensitive, whole string. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        re += `[${glob.slice(i + 1, end).replace(/\\/g, "\\\\").replace(/^!/, "^")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export interface RowFilter {
  device?: string[];
  key?: string[];
}

export function makeFilter(f: RowFilter): (r: Row) => boolean {
  const dev = f.device?.length ? f.device.map(globToRegExp) : undefined;
  const key = f.key?.length ? f.key.map(globToRegExp) : undefined;
  return (r) => (!dev || dev.some((d) => d.test(r.device))) && (!key || r.kind === "rpc" || r.kind === "rpc-reply" || key.some((k) => k.test(r.key)));
}

/** Rows of one event (empty for events tail does not show). */
export function rowsOf(e: WireEvent): Row[] {
  if (e.kind === "uplink") {
    const d = e.data as { telemetry?: Array<{ ts?: number; values: Record<string, unknown> }>; attributes?: Record<string, unknown> } | undefined;
    if (!d) return [];
    const out: Row[] = [];
    for (const [key, value] of Object.entries(d.attributes ?? {})) out.push({ kind: "attribute", ts: e.at, device: e.device, key, value, connector: e.connector });
    for (const t of d.telemetry ?? []) {
      const ts = typeof t.ts === "number" ? t.ts : e.at;
      for (const [key, value] of Object.entries(t.values ?? {})) out.push({ kind: "telemetry", ts, device: e.device, key, value, connector: e.connector });
    }
    return out;
  }
  if (e.kind === "downlink") {
    const data = e.data as Record<string, unknown> | undefined;
    const device = e.device ?? "(gateway)";
    if (e.what === "attributes") return Object.entries(data ?? {}).map(([key, value]) => ({ kind: "attribute-update" as const, ts: e.at, device, key, value }));
    const method = typeof data?.method === "string" ? data.method : "";
    const value = e.what === "rpc" ? (data?.params ?? data) : data;
    return [{ kind: e.what, ts: e.at, device, key: method, value }];
  }
  return [];
}
