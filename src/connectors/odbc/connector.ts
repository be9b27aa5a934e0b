// ODBC connector (spec/connectors/odbc.md): one connection, one polling loop.
//   connect → initialise the iterator (saved file, `value`, or `iterator.query`) → poll the query
//   with the iterator bound to its one `?` → rows to the gateway → iterator = the last row's column
//   → save it (persistent) → poll again at once when rows came (a backlog drains), else after
//   `polling.period`.
// A row is read once: the iterator advances only once the rows are stored (sendData resolved
// SUCCESS), so a full storage means the same rows are read again later, never skipped.
// A lost connection (SQLSTATE 08xxx, or the driver saying so) is closed and reopened with backoff:
// 1 s, doubling up to `reconnectPeriod`. Errors are logged once per change of state.
// A custom converter (`converter`, custom-converter.ts) converts each row instead of the built-in
// mapping; its rows are acknowledged the same way. A row it throws on is dropped (logged) and
// counts as read: the iterator moves past it, so one bad row never stops the rows after it.

import type { CustomUplink } from "../../common/converters/custom-uplink.ts";
import { compileExpression } from "../../common/expressions/python/index.ts";
import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, ConvertedData, RpcRequest } from "../../core/model.ts";
import { errorText } from "../../observe/logger.ts";
import { checkOdbcAvailable, connectOdbc, getInfoText, isConnectionError, odbcErrorText, SQL_DATABASE_NAME, SQL_DRIVER_NAME, SQL_SERVER_NAME, type OdbcConnection, type OdbcResult } from "./addon.ts";
import { compileMapping, convertRow, typedRow, typedValue, type RowMapping } from "./converter.ts";
import { convertRowCustom, loadRowConverter } from "./custom-converter.ts";
import { OdbcAttributeWriter, OdbcRpc } from "./downlink.ts";
import { iteratorFilePath, readIterator, writeIterator, type IteratorState } from "./iterator-file.ts";
import type { OdbcConfig } from "./schema.ts";

const FIRST_RETRY_MS = 1000;
/**
 * First buffer for a long column (TEXT, BYTEA...), grown as needed. The binding's default is 1 MB,
 * allocated and zeroed per long column of every row: 1,000 rows of a SQLite TEXT column took 2.8 s.
 */
const LONG_DATA_BUFFER = 4096;
/** Rows of one device per stored record (see groupByDevice). */
const GROUP_ROWS = 50;

/**
 * What start() needs before it connects: the ODBC binding (a missing libodbc fails the connector
 * here, with what to install) and the custom row converter `converter` names (undefined: the
 * built-in mapping). start() and `run --check` (the descriptor's prepare) both take them from here.
 */
export async function prepareRows(config: OdbcConfig, ctx: ConnectorContext): Promise<CustomUplink | undefined> {
  checkOdbcAvailable();
  return loadRowConverter(config, ctx);
}

export class OdbcConnector implements Connector {
  private readonly mapping: RowMapping;
  /** the user's row converter (`converter`), loaded at start; undefined: the built-in mapping */
  private custom: CustomUplink | undefined;
  private readonly rpc: OdbcRpc;
  private readonly attributes: OdbcAttributeWriter;
  private conn: OdbcConnection | undefined;
  private iterator: IteratorState | undefined;
  private iteratorFile: string | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** the statement chain: one statement at a time on the one connection */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly problems = new Map<string, string>();
  private readonly deviceTypes = new Map<string, string>();
  private retryMs = FIRST_RETRY_MS;
  /** the next page, asked for while the last one was being stored (see poll) */
  private prefetched: { value: unknown; result: Promise<{ rows: OdbcResult } | { error: unknown }> } | undefined;

  constructor(
    private readonly config: OdbcConfig,
    private readonly ctx: ConnectorContext,
  ) {
    this.mapping = compileMapping(config.mapping);
    // fail at start, not at the first update, when an expression does not compile
    for (const u of config.attributeUpdates) for (const a of u.args) compileExpression(a);
    this.rpc = new OdbcRpc(config.serverSideRpc, (sql, params) => this.execute(sql, params, true));
    this.attributes = new OdbcAttributeWriter(config.attributeUpdates, (sql, params) => this.execute(sql, params, true), (d) => this.deviceTypes.get(d));
  }

  async start(): Promise<void> {
    this.custom = await prepareRows(this.config, this.ctx);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.disconnect();
  }

  async onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    if (this.attributes.empty) {
      this.ctx.log.warn(`attribute update for ${update.device} ignored: no attributeUpdates rules in the config (upstream does not support them either)`);
      return;
    }
    for (const p of await this.attributes.write(update)) this.ctx.log.error(p);
  }

  async onRpc(request: RpcRequest): Promise<unknown> {
    if (!request.device) return undefined;
    if (!this.conn) return { success: false, error: "not connected to the database" };
    return this.rpc.handle(request);
  }

  /** One statement on the connection, after those before it; commits when autocommit is off. */
  private execute(sql: string, params: unknown[], write = false): Promise<OdbcResult> {
    const run = async () => {
      const conn = this.conn;
      if (!conn) throw new Error("not connected to the database");
      try {
        const r = await conn.query(sql, params, { initialBufferSize: LONG_DATA_BUFFER });
        if (write && this.config.connection.attributes.autocommit === false) await conn.commit();
        return r;
      } catch (e) {
        if (isConnectionError(e) && this.conn === conn) void this.dropConnection(e);
        throw e;
      }
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private report(key: string, problem: string | undefined): void {
    const last = this.problems.get(key);
    if (problem === undefined) {
      if (last !== undefined) {
        this.problems.delete(key);
        this.ctx.log.info(`${key}: working again`);
      }
    } else if (last !== problem) {
      this.problems.set(key, problem);
      this.ctx.log.error(problem);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    const periodMs = this.config.polling.period * 1000;
    while (!this.stopped) {
      if (!this.conn && !(await this.connect())) {
        if (!this.config.connection.reconnect) {
          this.ctx.log.error("connection failed and connection.reconnect is false: the connector stays idle until restarted");
          return;
        }
        await this.sleep(this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, this.config.connection.reconnectPeriod * 1000);
        continue;
      }
      if (!this.iterator && !(await this.initIterator())) {
        await this.sleep(this.conn ? periodMs : this.retryMs);
        continue;
      }
      const advanced = await this.poll();
      if (!advanced) await this.sleep(this.conn ? periodMs : this.retryMs);
    }
  }

  private async connect(): Promise<boolean> {
    const { str, attributes } = this.config.connection;
    try {
      this.conn = await connectOdbc({ connectionString: str, loginTimeout: attributes.timeout });
      if (this.stopped) {
        await this.disconnect();
        return false;
      }
      this.report("connection", undefined);
      this.retryMs = FIRST_RETRY_MS;
      this.ctx.log.info("connected to the database");
      return true;
    } catch (e) {
      this.report("connection", `cannot connect to the database (connection.str ${redact(str)}): ${odbcErrorText(e)}`);
      return false;
    }
  }

  private async dropConnection(why: unknown): Promise<void> {
    if (!this.conn) return;
    this.report("connection", `lost the database connection: ${odbcErrorText(why)}; reconnecting`);
    await this.disconnect();
  }

  private async disconnect(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    this.prefetched = undefined;
    // a statement still running (a prefetched page, an RPC) finishes before its connection closes
    await this.chain;
    if (conn) await conn.close().catch(() => undefined);
  }

  private async initIterator(): Promise<boolean> {
    const it = this.config.polling.iterator;
    try {
      if (it.persistent) {
        const conn = this.conn!;
        this.iteratorFile = iteratorFilePath(this.ctx.configDir, {
          driver: getInfoText(conn, SQL_DRIVER_NAME),
          server: getInfoText(conn, SQL_SERVER_NAME),
          database: getInfoText(conn, SQL_DATABASE_NAME),
          connector: this.ctx.name,
          column: it.column,
        });
        const saved = readIterator(this.iteratorFile);
        if (saved) {
          this.iterator = { name: it.column, value: saved.value, total: saved.total };
          this.ctx.log.info(`iterator ${it.column} = ${JSON.stringify(saved.value)} from ${this.iteratorFile}`);
          return true;
        }
      }
      let value: unknown = it.value;
      if (value === undefined && it.query) {
        const r = await this.execute(it.query, []);
        const first = r[0];
        value = first ? typedValue(Object.values(first)[0], r.columns?.[0]?.dataType) : null;
        if (value === null || value === undefined) throw new Error(`iterator.query ${JSON.stringify(it.query)} gave no value (empty table?); retrying every polling period`);
      }
      if (value === undefined) throw new Error("the iterator has no starting value: set polling.iterator.value or polling.iterator.query");
      this.iterator = { name: it.column, value, total: 0 };
      this.report("iterator", undefined);
      return true;
    } catch (e) {
      const text = e instanceof Error && !("odbcErrors" in e) ? errorText(e) : `iterator.query ${JSON.stringify(it.query)} failed: ${odbcErrorText(e)}`;
      this.report("iterator", text);
      return false;
    }
  }

  private prefetch(value: unknown): void {
    const result = this.execute(this.config.polling.query, [value]).then(
      (rows) => ({ rows }),
      (error: unknown) => ({ error }),
    );
    this.prefetched = { value, result };
  }

  /** One poll; true when the iterator advanced (so poll again at once). */
  private async poll(): Promise<boolean> {
    const { query, iterator } = this.config.polling;
    const it = this.iterator!;
    let result: OdbcResult;
    try {
      const ahead = this.prefetched;
      this.prefetched = undefined;
      const got = ahead && ahead.value === it.value ? await ahead.result : undefined;
      if (got && "error" in got) throw got.error;
      result = got ? got.rows : await this.execute(query, [it.value]);
      this.report("query", undefined);
    } catch (e) {
      this.report("query", `polling query ${JSON.stringify(query)} failed: ${odbcErrorText(e)}`);
      return false;
    }
    if (result.length === 0) return false;
    const now = Date.now();
    const batch: ConvertedData[] = [];
    let last: unknown;
    let missingColumn = false;
    const rowProblems = new Set<string>();
    for (const raw of result) {
      const row = typedRow(raw, result.columns);
      if (!Object.hasOwn(row, iterator.column)) missingColumn = true;
      else if (row[iterator.column] !== null) last = row[iterator.column];
      const converted = this.custom
        ? await convertRowCustom(this.custom, this.config.mapping, this.mapping, row, now, (m) => rowProblems.add(m))
        : [convertRow(this.mapping, row, now, (m) => rowProblems.add(m))];
      for (const data of converted) {
        if (!data) continue;
        batch.push(data);
        if (data.deviceType) this.deviceTypes.set(data.deviceName, data.deviceType);
      }
    }
    this.report("rows", rowProblems.size ? [...rowProblems].join("; ") : undefined);
    if (missingColumn) {
      this.report("iterator column", `the polling query's result has no column "${iterator.column}" (polling.iterator.column): the same rows would be read forever; add it to the SELECT`);
      return false;
    }
    this.report("iterator column", undefined);
    // the next page is fetched (on the binding's worker thread) while this one is stored; used
    // only if this one is stored, i.e. the iterator really becomes `last`
    if (last !== undefined && !this.stopped) this.prefetch(last);
    if (batch.length) {
      const status = await this.ctx.sendData(groupByDevice(batch));
      if (status === "NOT_STORED") {
        this.prefetched = undefined;
        this.report("storage", `the gateway did not store ${batch.length} rows (storage full or stopping): they are read again at the next poll`);
        return false;
      }
      this.report("storage", undefined);
    }
    if (last === undefined) return false;
    it.value = last;
    it.total += result.length;
    if (this.iteratorFile) {
      try {
        writeIterator(this.iteratorFile, it);
        this.report("iterator file", undefined);
      } catch (e) {
        this.report("iterator file", `cannot save the iterator to ${this.iteratorFile}: ${errorText(e)}`);
      }
    }
    return !this.stopped;
  }
}

/**
 * One ConvertedData per device for a poll's rows, in row order: telemetry entries one after the
 * other (each with its row's time), attributes applied in order (a later row's value wins, as if
 * sent one by one). Storage and delivery then handle a record per device and up to `maxRows`
 * rows (kept small: one record stays well inside one platform message), not one per row.
 */
export function groupByDevice(rows: ConvertedData[], maxRows = GROUP_ROWS): ConvertedData[] {
  const out: ConvertedData[] = [];
  const open = new Map<string, { data: ConvertedData; rows: number }>();
  for (const d of rows) {
    const current = open.get(d.deviceName);
    if (!current || current.rows >= maxRows) {
      const data = { ...d, attributes: d.attributes && { ...d.attributes }, telemetry: d.telemetry && [...d.telemetry] };
      open.set(d.deviceName, { data, rows: 1 });
      out.push(data);
      continue;
    }
    current.rows++;
    const g = current.data;
    if (d.deviceType) g.deviceType = d.deviceType;
    if (d.attributes) g.attributes = Object.assign(g.attributes ?? {}, d.attributes);
    if (d.telemetry) (g.telemetry ??= []).push(...d.telemetry);
  }
  return out;
}

/** The connection string with its password hidden, for log lines. */
export function redact(str: string): string {
  return JSON.stringify(str.replace(/((?:^|;)\s*(?:pwd|password)\s*=\s*)(\{[^}]*\}|[^;]*)/gi, "$1***"));
}
