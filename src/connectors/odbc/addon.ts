// The ODBC layer the connector uses: the `odbc` package's native binding (native.ts) wrapped in
// that package's own JS Connection class. The package's entry file (lib/odbc.js) is not used: it
// finds the binding through @mapbox/node-pre-gyp at paths computed at run time, which cannot work
// inside the single executable; native.ts gives the binding by a path fixed at build time instead.
//
// Loading the binding links the system's libodbc.so.2 (unixODBC). When that library is missing the
// error says so and which Debian package provides it; only the ODBC connector fails, the rest of
// the gateway runs.

import { requireNativeOdbc } from "./native.ts";

/** One column of a result, as the binding describes it. */
export interface OdbcColumn {
  name: string;
  dataType: number;
  dataTypeName?: string;
}

/** Rows of a result (objects keyed by column name) plus its column list. */
export type OdbcResult = Array<Record<string, unknown>> & { columns?: OdbcColumn[] };

/** The part of the package's Connection class the connector uses. */
export interface OdbcConnection {
  query(sql: string, params?: unknown[], opts?: { timeout?: number; initialBufferSize?: number }): Promise<OdbcResult>;
  commit(): Promise<void>;
  close(): Promise<void>;
  readonly connected: boolean;
}

/** SQLGetInfo options upstream names its iterator file with. */
export const SQL_DRIVER_NAME = 6;
export const SQL_SERVER_NAME = 13;
export const SQL_DATABASE_NAME = 16;

/**
 * SQLGetInfo as text (the binding built by build/odbc-addon.ts has getInfoString); "" when the
 * driver has no answer.
 */
export function getInfoText(conn: OdbcConnection, option: number): string {
  const raw = (conn as unknown as { odbcConnection?: { getInfoString?: (n: number) => string | null } }).odbcConnection;
  return raw?.getInfoString?.(option) ?? "";
}

export interface ConnectOptions {
  connectionString: string;
  /** Seconds to wait for the login; 0 = the driver's default. */
  loginTimeout?: number;
}

type Native = { connect(opts: unknown, cb: (err: unknown, conn: unknown) => void): void };

let loaded: { native: Native; Connection: new (c: unknown) => OdbcConnection } | undefined;

/** Text of a failed dlopen of the binding, turned into what the user must do about it. */
export function explainLoadError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  if (/libodbc\.so/.test(message)) {
    return `the system's ODBC library libodbc.so.2 (unixODBC) could not be loaded: install Debian package unixodbc (or just libodbc2) and the ODBC driver for your database, e.g. odbc-postgresql or libsqliteodbc (${message})`;
  }
  const lib = /(lib[\w+.-]+\.so[\d.]*): cannot open shared object file/.exec(message)?.[1];
  if (lib) return `a system library the ODBC binding needs, ${lib}, is not installed${lib.startsWith("libstdc++") ? " (Debian package libstdc++6)" : ""} (${message})`;
  return `the ODBC binding could not be loaded (${message})`;
}

function load(): NonNullable<typeof loaded> {
  if (loaded) return loaded;
  let native: Native;
  try {
    native = requireNativeOdbc() as Native;
  } catch (e) {
    throw new Error(explainLoadError(e));
  }
  // the package's Connection class (query/close/commit over the binding); it requires only its
  // sibling Statement and Cursor classes, never the binding itself
  const { Connection } = require("odbc/lib/Connection.js") as { Connection: new (c: unknown) => OdbcConnection };
  loaded = { native, Connection };
  return loaded;
}

/** Throws the explained load error when the binding or libodbc cannot be loaded. */
export function checkOdbcAvailable(): void {
  load();
}

export function connectOdbc(opts: ConnectOptions): Promise<OdbcConnection> {
  const { native, Connection } = load();
  const arg = opts.loginTimeout ? { connectionString: opts.connectionString, loginTimeout: opts.loginTimeout } : opts.connectionString;
  return new Promise((resolve, reject) => native.connect(arg, (err, conn) => (err ? reject(err) : resolve(new Connection(conn)))));
}

/**
 * The database's own words from an error of the binding: node-odbc puts a generic "[odbc] Error
 * executing the sql statement" in `message` and the driver's diagnostics in `odbcErrors`.
 */
export function odbcErrorText(e: unknown): string {
  const diags = (e as { odbcErrors?: Array<{ state?: string; message?: string }> } | undefined)?.odbcErrors;
  const base = e instanceof Error ? e.message : String(e);
  if (Array.isArray(diags) && diags.length) {
    return diags.map((d) => `${d.message ?? "?"}${d.state ? ` (SQLSTATE ${d.state})` : ""}`).join("; ");
  }
  return base || "unknown ODBC error";
}

/** SQLSTATE class 08 (connection exception) or a closed connection: reconnect, do not just retry. */
export function isConnectionError(e: unknown): boolean {
  const diags = (e as { odbcErrors?: Array<{ state?: string }> } | undefined)?.odbcErrors;
  if (Array.isArray(diags) && diags.some((d) => typeof d.state === "string" && (d.state.startsWith("08") || d.state === "57P01"))) return true;
  const text = odbcErrorText(e);
  return /connection (is )?(closed|lost|terminated|not open)|server closed the connection|could not (send|receive)|no connection|broken pipe|terminating connection/i.test(text);
}
