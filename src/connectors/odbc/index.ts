// ODBC connector descriptor: the schema loads eagerly; the native binding (and the system's
// libodbc) only when a config uses the connector.

import type { ConnectorDescriptor, ConnectorWarning, PollTarget } from "../../core/connector.ts";
import { isObj, text, type Obj } from "../../core/raw-config.ts";
import { OdbcConfigSchema, type OdbcConfig } from "./schema.ts";

/** One target: the connection string without its password. */
function pollTargets(raw: Obj): PollTarget[] {
  const str = isObj(raw.connection) ? text(raw.connection.str) : "";
  if (!str) return [];
  const withoutSecret = str.replace(/((?:^|;)\s*(?:pwd|password)\s*=\s*)(\{[^}]*\}|[^;]*)/gi, "$1***");
  return [{ path: ["connection", "str"], target: `odbc ${withoutSecret}` }];
}

/** What the schema cannot see in the polling query: the iterator's `?` and a bound on the page. */
function lint(raw: Obj): ConnectorWarning[] {
  const query = isObj(raw.polling) ? text(raw.polling.query) : "";
  if (!query) return [];
  const warnings: ConnectorWarning[] = [];
  const withoutStrings = query.replace(/'(?:[^']|'')*'/g, "''");
  const marks = (withoutStrings.match(/\?/g) ?? []).length;
  if (marks !== 1) warnings.push({ path: ["polling", "query"], message: `the polling query has ${marks} "?" placeholders; it needs exactly one, bound to the iterator's value (e.g. WHERE ts > ?)` });
  if (!/\b(limit|top|fetch\s+first|fetch\s+next|rownum)\b/i.test(withoutStrings)) {
    warnings.push({ path: ["polling", "query"], message: "the polling query has no LIMIT (or TOP / FETCH FIRST): a large backlog is read into memory in one result; add e.g. ORDER BY ts LIMIT 1000 (the connector polls again at once while rows keep coming)" });
  }
  return warnings;
}

export const descriptor: ConnectorDescriptor<OdbcConfig> = {
  type: "odbc",
  schema: OdbcConfigSchema,
  title: "ODBC databases (unixODBC): polls a query with an iterator column, rows to telemetry and attributes; RPC and attribute updates as SQL with bound parameters",
  pollTargets,
  lint,
  async create(config, ctx) {
    const { OdbcConnector } = await import("./connector.ts");
    return new OdbcConnector(config, ctx);
  },
  /** run --check: the ODBC binding and the custom row converter, with start()'s own function (mapping and downlink expressions: in create; no database is opened). */
  async prepare(config, ctx) {
    const { prepareRows } = await import("./connector.ts");
    await prepareRows(config, ctx);
  },
  /**
   * The sample is one row as a JSON object (column → value); no database is touched. With a
   * custom `converter`, the rows go through that class (a class that cannot be loaded is the error).
   */
  async convertSample(config, sample, opts) {
    const { compileMapping, convertRow } = await import("./converter.ts");
    const { convertRowCustom, loadRowConverterOrThrow } = await import("./custom-converter.ts");
    const { Logger } = await import("../../observe/logger.ts");
    const custom = await loadRowConverterOrThrow(config, { configDir: opts.configDir, name: config.name ?? "ODBC", id: config.id, log: new Logger("validate") });
    let row: unknown;
    try {
      row = JSON.parse(new TextDecoder().decode(sample));
    } catch (e) {
      throw new Error(`the ODBC sample is one row as a JSON object, e.g. {"entity_id": "a1", "ts": 1700000000000, "dbl_v": 1.5} (${e instanceof Error ? e.message : String(e)})`);
    }
    const rows = Array.isArray(row) ? row : [row];
    const problems: string[] = [];
    const mapping = compileMapping(config.mapping);
    const out = [];
    for (const r of rows) {
      if (!r || typeof r !== "object") throw new Error("each ODBC sample row must be a JSON object (column → value)");
      const row = r as Record<string, unknown>;
      if (custom) out.push(...(await convertRowCustom(custom, config.mapping, mapping, row, Date.now(), (m) => problems.push(m))));
      else {
        const d = convertRow(mapping, row, Date.now(), (m) => problems.push(m));
        if (d) out.push(d);
      }
    }
    if (problems.length && !out.length) throw new Error(problems.join("; "));
    return out;
  },
};
