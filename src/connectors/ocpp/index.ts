// OCPP connector descriptor: the schema loads eagerly, the Central System only when a config uses it.

import type { ConnectorDescriptor, ConnectorWarning } from "../../core/connector.ts";
import { CHARGE_POINT_ACTIONS } from "./actions.ts";
import { OcppConfigSchema, type OcppConfig } from "./schema.ts";

export const descriptor: ConnectorDescriptor<OcppConfig> = {
  type: "ocpp",
  schema: OcppConfigSchema,
  title: "OCPP 1.6-J Central System: charge points connect over WebSocket; their messages to telemetry and attributes, RPC as OCPP CALLs",
  async create(config, ctx) {
    const { OcppConnector } = await import("./connector.ts");
    return new OcppConnector(config, ctx);
  },
  /** run --check: each charge-point entry's custom converter, as start() loads it (built-in converters: in create). */
  async prepare(config, ctx) {
    const { loadChargePointUplink } = await import("./connector.ts");
    for (const cp of config.chargePoints) await loadChargePointUplink(cp, ctx);
  },
  /** An action name in `messageTypeFilter` that no charge point sends would never match: say so. */
  lint(raw) {
    const warnings: ConnectorWarning[] = [];
    const known = new Set(CHARGE_POINT_ACTIONS);
    const cps = Array.isArray(raw.chargePoints) ? raw.chargePoints : [];
    cps.forEach((cp: any, i: number) => {
      for (const list of ["attributes", "timeseries"] as const) {
        const keys = Array.isArray(cp?.[list]) ? cp[list] : [];
        keys.forEach((k: any, j: number) => {
          if (typeof k?.messageTypeFilter !== "string") return;
          for (const name of k.messageTypeFilter.split(",").map((s: string) => s.trim()).filter(Boolean)) {
            if (!known.has(name)) warnings.push({ path: ["chargePoints", i, list, j, "messageTypeFilter"], message: `"${name}" is not an action a charge point sends; known: ${CHARGE_POINT_ACTIONS.join(", ")}` });
          }
        });
      }
    });
    return warnings;
  },
  /** The sample is one CALL payload (JSON); `--topic` is its action (default MeterValues). The device is "<chargePointId>". */
  async convertSample(config, sample, opts) {
    const { ChargePointConverter, messageBody } = await import("./converter.ts");
    const action = opts.topic ?? "MeterValues";
    const payload: unknown = JSON.parse(Buffer.from(sample).toString("utf8"));
    // a live CALL whose payload is not an object is answered FormationViolation before conversion
    if (payload === null || typeof payload !== "object" || Array.isArray(payload)) throw new Error(`an OCPP ${action} payload is a JSON object, not ${Array.isArray(payload) ? "an array" : JSON.stringify(payload)?.slice(0, 40)}`);
    return config.chargePoints.flatMap((cp) => {
      const conv = new ChargePointConverter(cp);
      const data = conv.convert(action, messageBody(action, payload as Record<string, unknown>), { name: "<chargePointId>", type: cp.deviceTypeExpression }, Date.now()).data;
      return data ? [data] : [];
    });
  },
};
