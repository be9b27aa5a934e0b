// One SNMP session per agent (net-snmp, pure JS over UDP), with promise-returning operations that
// hand back plain JS values. The methods mirror the upstream request methods (spec §2.3).

import snmp, { type Session, type Varbind } from "net-snmp";
import type { SnmpDevice, SnmpOperation } from "./schema.ts";

export type SnmpValue = string | number | boolean | null;
export type OidMap = Record<string, SnmpValue>;
export type SnmpResult = SnmpValue | SnmpValue[] | OidMap | OidMap[];

/** Raised when the agent did not answer in time: the poll of that device is abandoned. */
export class SnmpTimeoutError extends Error {
  override name = "SnmpTimeoutError";
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

/** Octet strings: text when they are valid UTF-8 without control characters, else colon hex (like a MAC). */
export function decodeOctets(b: Uint8Array): string {
  try {
    const s = utf8.decode(b);
    // eslint-disable-next-line no-control-regex
    if (!/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(s)) return s;
  } catch {
    // not UTF-8: fall through to hex
  }
  return hex(b);
}

/** A varbind value as a plain JS value (TimeTicks in seconds, as upstream's timedelta conversion). */
export function decodeVarbind(v: Varbind): SnmpValue {
  const T = snmp.ObjectType;
  if (snmp.isVarbindError(v)) return null;
  const val = v.value;
  switch (v.type) {
    case T.OctetString:
    case T.Opaque:
    case T.BitString:
      return Buffer.isBuffer(val) ? decodeOctets(val) : String(val);
    case T.TimeTicks:
      return Number(val) / 100;
    case T.Counter64: {
      if (!Buffer.isBuffer(val)) return Number(val);
      let n = 0n;
      for (const byte of val) n = (n << 8n) | BigInt(byte);
      return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
    }
    case T.Boolean:
      return Boolean(val);
    case T.Null:
      return null;
    default:
      if (typeof val === "number" || typeof val === "string" || typeof val === "boolean") return val;
      return val == null ? null : String(val);
  }
}

/** Value to write: numbers as Integer, everything else as OctetString; `{type, value}` picks the type. */
export function encodeForSet(oid: string, value: unknown): Varbind {
  const T = snmp.ObjectType;
  if (value && typeof value === "object" && "type" in value && "value" in value) {
    const { type, value: v } = value as { type: string; value: unknown };
    const t = T[type];
    if (t === undefined) throw new Error(`unknown SNMP type "${type}" for ${oid}; use Integer, OctetString, Gauge, Counter, TimeTicks, IpAddress or OID`);
    return { oid, type: t, value: t === T.OctetString ? String(v) : t === T.IpAddress || t === T.OID ? String(v) : Number(v) };
  }
  if (typeof value === "number" && Number.isInteger(value)) return { oid, type: T.Integer, value };
  if (typeof value === "boolean") return { oid, type: T.Integer, value: value ? 1 : 0 };
  return { oid, type: T.OctetString, value: typeof value === "string" ? value : JSON.stringify(value) };
}

function toList(oid: string | string[] | undefined, what: string): string[] {
  const list = oid === undefined ? [] : Array.isArray(oid) ? oid : [oid];
  if (list.length === 0) throw new Error(`${what}: "oid" is required`);
  return list;
}

/** Row dicts as upstream's table helper: {"0": row index, "<column>": value, ...}. */
export function tablify(baseOid: string, varbinds: Array<[string, SnmpValue]>): OidMap[] {
  const tails = varbinds.map(([oid, v]) => [oid.slice(baseOid.length + 1).split("."), v] as const);
  // Given the table OID rather than its entry OID, every tail starts with the entry node "1".
  const dropEntry = tails.length > 0 && tails.every(([t]) => t[0] === "1" && t.length >= 3);
  const rows = new Map<string, OidMap>();
  for (const [tail, value] of tails) {
    const t = dropEntry ? tail.slice(1) : tail;
    const col = t[0] ?? "";
    const rowId = t.slice(1).join(".");
    let row = rows.get(rowId);
    if (!row) rows.set(rowId, (row = { "0": rowId }));
    row[col] = value;
  }
  return [...rows.values()];
}

export class SnmpClient {
  private session: Session;
  private closed = false;

  constructor(private readonly device: SnmpDevice) {
    const opts = {
      port: device.port,
      timeout: Math.max(1, Math.round(device.timeout * 1000)),
      retries: device.retries,
      // Upstream stops walks on the first OID outside the subtree; net-snmp's default check on
      // ordering would turn buggy agents into errors instead.
      backwardsGetNexts: true,
    };
    if (device.version === "3" && device.v3) {
      const v3 = device.v3;
      const user = {
        name: v3.user,
        level: snmp.SecurityLevel[v3.level]!,
        authProtocol: v3.level === "noAuthNoPriv" ? undefined : snmp.AuthProtocols[v3.authProtocol],
        authKey: v3.authKey,
        privProtocol: v3.level === "authPriv" ? snmp.PrivProtocols[v3.privProtocol] : undefined,
        privKey: v3.privKey,
      };
      this.session = snmp.createV3Session(device.ip, user, { ...opts, version: snmp.Version3, context: v3.context });
    } else {
      const version = device.version === "1" ? snmp.Version1 : snmp.Version2c;
      this.session = snmp.createSession(device.ip, device.community, { ...opts, version });
    }
    // net-snmp re-emits socket errors under a non-"error" name; nothing to crash on, but keep a listener.
    this.session.on("error", () => {});
  }

  private get bulkCapable(): boolean {
    return this.device.version !== "1";
  }

  private call<T>(fn: (cb: (e: Error | null, r: T) => void) => void): Promise<T> {
    if (this.closed) return Promise.reject(new Error("SNMP session closed"));
    return new Promise((resolve, reject) => {
      try {
        fn((e, r) => {
          if (!e) return resolve(r);
          if (e.name === "RequestTimedOutError") reject(new SnmpTimeoutError(`no answer from ${this.device.ip}:${this.device.port} within ${this.device.timeout} s`));
          else reject(e);
        });
      } catch (e) {
        reject(e as Error);
      }
    });
  }

  get(oids: string[]): Promise<Varbind[]> {
    return this.call((cb) => this.session.get(oids, cb));
  }

  getNext(oids: string[]): Promise<Varbind[]> {
    return this.call((cb) => this.session.getNext(oids, cb));
  }

  /** All varbinds under `oid`; falls back to a GET of `oid` itself when it is a leaf (as snmpwalk does). */
  async subtree(oid: string, maxRepetitions: number): Promise<Array<[string, SnmpValue]>> {
    const out: Array<[string, SnmpValue]> = [];
    await this.call<void>((cb) =>
      this.session.subtree(
        oid,
        this.bulkCapable ? maxRepetitions : 1,
        (vbs) => {
          for (const vb of vbs) out.push([vb.oid, decodeVarbind(vb)]);
        },
        (e) => cb(e, undefined),
      ),
    );
    if (out.length === 0) {
      const [vb] = await this.get([oid]);
      if (vb && !snmp.isVarbindError(vb)) out.push([vb.oid, decodeVarbind(vb)]);
    }
    return out;
  }

  async bulkGet(scalars: string[], repeating: string[], maxRepetitions: number): Promise<OidMap> {
    // GetBulk non-repeaters have GETNEXT semantics; v1 has no GetBulk, so ask GETNEXT directly.
    if (!this.bulkCapable) return Object.fromEntries((await this.getNext(scalars)).map((vb) => [vb.oid, decodeVarbind(vb)]));
    const res = await this.call<Array<Varbind | Varbind[]>>((cb) =>
      this.session.getBulk([...scalars, ...repeating], scalars.length, maxRepetitions, cb),
    );
    const out: OidMap = {};
    for (const item of res.slice(0, scalars.length)) {
      const vb = item as Varbind;
      out[vb.oid] = decodeVarbind(vb);
    }
    return out;
  }

  set(varbinds: Varbind[]): Promise<Varbind[]> {
    return this.call((cb) => this.session.set(varbinds, cb));
  }

  /** Run one configured operation; `value` is the attribute value or RPC params for writes. */
  async execute(op: SnmpOperation, value?: unknown): Promise<SnmpResult> {
    const asMap = (vbs: Array<[string, SnmpValue]>): OidMap => Object.fromEntries(vbs);
    switch (op.method) {
      case "get": {
        const [vb] = await this.get(toList(op.oid, "get").slice(0, 1));
        return vb ? decodeVarbind(vb) : null;
      }
      case "multiget":
        return (await this.get(toList(op.oid, "multiget"))).map(decodeVarbind);
      case "getnext":
        return Object.fromEntries((await this.getNext(toList(op.oid, "getnext"))).map((vb) => [vb.oid, decodeVarbind(vb)]));
      case "walk":
        return asMap(await this.subtree(toList(op.oid, "walk")[0]!, 20));
      case "multiwalk":
      case "bulkwalk": {
        const out: OidMap = {};
        for (const oid of toList(op.oid, op.method)) Object.assign(out, asMap(await this.subtree(oid, op.bulkSize ?? 10)));
        return out;
      }
      case "bulkget":
        return this.bulkGet(op.scalarOid ?? [], op.repeatingOid ?? [], op.maxListSize ?? 1);
      case "table":
      case "bulktable": {
        const base = toList(op.oid, op.method)[0]!;
        return tablify(base, await this.subtree(base, op.bulkSize ?? 10));
      }
      case "set": {
        const [vb] = await this.set([encodeForSet(toList(op.oid, "set")[0]!, value)]);
        return vb ? decodeVarbind(vb) : null;
      }
      case "multiset": {
        const mappings = op.mappings ?? (value && typeof value === "object" ? (value as Record<string, unknown>) : undefined);
        if (!mappings || Object.keys(mappings).length === 0) throw new Error('multiset: needs "mappings" {oid: value} in the rule or as the params');
        const vbs = Object.entries(mappings).map(([oid, v]) => encodeForSet(oid.replace(/^\./, ""), substitute(v, value)));
        return Object.fromEntries((await this.set(vbs)).map((vb) => [vb.oid, decodeVarbind(vb)]));
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.session.close();
    } catch {
      // already closed
    }
  }
}

/** "${attribute}" in a multiset mapping stands for the new value (the whole value when it is alone). */
function substitute(template: unknown, value: unknown): unknown {
  if (typeof template !== "string" || !template.includes("${attribute}")) return template;
  if (template === "${attribute}") return value;
  return template.replaceAll("${attribute}", String(value));
}
