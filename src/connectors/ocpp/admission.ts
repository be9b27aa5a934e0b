// Who may connect, decided on the HTTP upgrade request before any WebSocket exists: the
// Authorization header against `centralSystem.security`, then the charge point id (URL path
// without its slashes) and peer address against `chargePoints[]`. A refused charge point gets an
// HTTP error and never reaches a mapping (upstream accepts the socket first and closes it).

import type { CentralSystemConfig, ChargePointConfig } from "./schema.ts";

export type Admission = { ok: true; id: string; entry: number } | { ok: false; status: number; reason: string; id: string };

export const OCPP16 = "ocpp1.6";

/** `/bidon/hello/CP_1?x=1` → `bidon/hello/CP_1` (upstream strips the slashes; percent escapes are decoded here). */
export function chargePointId(pathname: string): string {
  const raw = pathname.replace(/^\/+|\/+$/g, "");
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

interface CompiledEntry {
  id: RegExp;
  host?: RegExp;
  port?: RegExp;
}

/** Python's `re.match`: anchored at the start only. */
const fromStart = (pattern: string) => new RegExp(`^(?:${pattern})`);

export class Admitter {
  private readonly entries: CompiledEntry[];
  private readonly tokens = new Set<string>();
  private readonly credentials: Array<{ username: string; password: string }> = [];
  private readonly secured: boolean;

  constructor(cs: CentralSystemConfig, chargePoints: ChargePointConfig[]) {
    this.entries = chargePoints.map((c) => ({
      id: fromStart(c.idRegexpPattern),
      host: c.host !== undefined ? fromStart(c.host) : undefined,
      port: c.port !== undefined ? fromStart(c.port) : undefined,
    }));
    for (const s of cs.security) {
      if ("tokens" in s) for (const t of s.tokens) this.tokens.add(t);
      else this.credentials.push(...s.credentials);
    }
    this.secured = cs.security.length > 0;
  }

  admit(pathname: string, authorization: string | null, peerAddress: string, peerPort: number): Admission {
    const id = chargePointId(pathname);
    if (id === "") return { ok: false, status: 404, reason: "no charge point id in the URL (ws://host:port/<chargePointId>)", id };
    if (this.secured && !this.authorized(authorization)) {
      return { ok: false, status: 401, reason: authorization ? "the Authorization header matches no configured token or credential" : "no Authorization header (security is configured)", id };
    }
    // the first entry whose id pattern matches decides; its peer filters must match too (upstream)
    const entry = this.entries.findIndex((e) => e.id.test(id));
    if (entry < 0) return { ok: false, status: 404, reason: "the id matches no chargePoints[].idRegexpPattern", id };
    const e = this.entries[entry]!;
    if ((e.host && !e.host.test(peerAddress)) || (e.port && !e.port.test(String(peerPort)))) {
      return { ok: false, status: 403, reason: `peer ${peerAddress}:${peerPort} does not match the host/port filters of chargePoints[${entry}]`, id };
    }
    return { ok: true, id, entry };
  }

  private authorized(header: string | null): boolean {
    if (!header) return false;
    const h = header.trim();
    if (this.tokens.has(h)) return true;
    const basic = /^basic\s+([A-Za-z0-9+/=._~-]+)$/i.exec(h);
    if (!basic) return false;
    const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const pass = decoded.slice(colon + 1);
    return this.credentials.some((c) => c.username === user && c.password === pass);
  }
}

/** Does the client offer OCPP 1.6 in Sec-WebSocket-Protocol? */
export function offersOcpp16(header: string | null): boolean {
  return (header ?? "").split(",").some((p) => p.trim().toLowerCase() === OCPP16);
}
