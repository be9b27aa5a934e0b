// RPC and attribute updates as SQL (spec/connectors/odbc.md, Downlink). Every value from the
// platform is a BOUND parameter (`?`), never pasted into SQL text. A stored procedure's name is the
// one thing that cannot be bound, so it must be a plain (optionally schema-qualified) identifier.

import { compileExpression, type Expression } from "../../common/expressions/python/index.ts";
import type { AttributeUpdate, RpcRequest } from "../../core/model.ts";
import { odbcErrorText, type OdbcResult } from "./addon.ts";
import { typedRow } from "./converter.ts";
import type { OdbcAttributeUpdate, OdbcConfig } from "./schema.ts";

/** Runs one statement with bound parameters on the connector's connection (commits when asked to). */
export type Execute = (sql: string, params: unknown[]) => Promise<OdbcResult>;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$/;

/** `{CALL name(?, ?)}`; throws for a name that is not an identifier (it goes into the SQL text). */
export function callSql(procedure: string, argCount: number): string {
  if (!IDENTIFIER.test(procedure)) throw new Error(`"${procedure}" is not a procedure name (letters, digits, _ and $, optionally schema.name)`);
  return argCount > 0 ? `{CALL ${procedure}(${new Array(argCount).fill("?").join(", ")})}` : `{CALL ${procedure}}`;
}

/** A value the binding can bind: numbers, strings, null; booleans as 1/0; anything else as JSON text. */
export function bindable(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "number" || typeof v === "string" || typeof v === "bigint") return v;
  return JSON.stringify(v);
}

const firstRow = (r: OdbcResult): Record<string, unknown> => (r.length ? typedRow(r[0]!, r.columns) : {});

interface MethodRule {
  args: unknown[];
  query?: string;
  result: boolean;
}

/** The reserved `get`/`set` params "procedure_name=p;query=...;value=1,2;with_result=true". */
function parseReserved(params: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of params.split(";")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/** A reserved-method value list "1,2.5,text": numbers where they read as numbers. */
function reservedArgs(text: string | undefined): unknown[] {
  if (text === undefined || text === "") return [];
  return text.split(",").map((s) => {
    const t = s.trim();
    return t !== "" && Number.isFinite(Number(t)) ? Number(t) : t;
  });
}

export class OdbcRpc {
  constructor(
    private readonly config: OdbcConfig["serverSideRpc"],
    private readonly execute: Execute,
  ) {}

  async handle(request: RpcRequest): Promise<unknown> {
    const method = request.method;
    if (method === "get" || method === "set") return this.reserved(method, request.params);
    const rule = this.ruleFor(method, request.params);
    if (typeof rule === "string") return { success: false, error: rule };
    try {
      const sql = rule.query ?? callSql(method, rule.args.length);
      const result = await this.execute(sql, rule.args.map(bindable));
      return rule.result ? firstRow(result) : { success: true };
    } catch (e) {
      return { success: false, error: `RPC ${method}: ${odbcErrorText(e)}` };
    }
  }

  private ruleFor(method: string, params: unknown): MethodRule | string {
    const p = params && typeof params === "object" && !Array.isArray(params) ? (params as Record<string, unknown>) : {};
    const configured = this.config.methods.find((m) => (typeof m === "string" ? m : m.name) === method);
    if (!configured) {
      if (!this.config.enableUnknownRpc) return `RPC method "${method}" is not configured (serverSideRpc.methods) and enableUnknownRpc is false`;
      return { args: Array.isArray(p.args) ? p.args : [], query: typeof p.query === "string" ? p.query : undefined, result: p.result === true };
    }
    const base: MethodRule = typeof configured === "string" ? { args: [], result: false } : { args: configured.args ?? configured.params ?? [], query: configured.query, result: configured.result === true };
    if (!this.config.overrideRpcConfig) return base;
    return {
      args: Array.isArray(p.args) ? p.args : base.args,
      query: typeof p.query === "string" ? p.query : base.query,
      result: typeof p.result === "boolean" ? p.result : base.result,
    };
  }

  private async reserved(method: "get" | "set", params: unknown): Promise<unknown> {
    if (typeof params !== "string" || params.trim() === "") return { [method]: "RPC params are empty, expected format: set value={value};" };
    const p = parseReserved(params);
    try {
      const args = reservedArgs(p.value);
      const sql = p.query ?? (p.procedure_name ? callSql(p.procedure_name, args.length) : undefined);
      if (!sql) return { [method]: "Error during executing reserved RPC: give procedure_name or query" };
      const result = await this.execute(sql, args);
      return p.with_result === "true" ? { result: firstRow(result) } : { result: { success: true } };
    } catch (e) {
      return { [method]: `Error during executing reserved RPC: ${odbcErrorText(e)}` };
    }
  }
}

interface CompiledUpdate {
  rule: OdbcAttributeUpdate;
  args: Expression[];
}

/** Shared attribute updates → one statement per key that has a rule (the first rule naming it, else "*"). */
export class OdbcAttributeWriter {
  private readonly rules: CompiledUpdate[];

  constructor(
    rules: OdbcAttributeUpdate[],
    private readonly execute: Execute,
    private readonly deviceTypeOf: (device: string) => string | undefined,
  ) {
    this.rules = rules.map((rule) => ({ rule, args: rule.args.map((a) => compileExpression(a)) }));
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** Writes each key; returns the problems (one text per failed key) for the caller to log. */
  async write(update: AttributeUpdate): Promise<string[]> {
    const problems: string[] = [];
    for (const [key, value] of Object.entries(update.data)) {
      const r = this.rules.find((c) => c.rule.attributeOnThingsBoard === key) ?? this.rules.find((c) => c.rule.attributeOnThingsBoard === "*");
      if (!r) continue;
      try {
        const scope = { deviceName: update.device, deviceType: this.deviceTypeOf(update.device) ?? "default", key, value };
        const args = r.args.map((a) => bindable(a.evaluate(scope)));
        const sql = r.rule.query ?? callSql(r.rule.procedure!, args.length);
        await this.execute(sql, args);
      } catch (e) {
        problems.push(`attribute update ${key} of ${update.device}: ${odbcErrorText(e)}`);
      }
    }
    return problems;
  }
}
