// The native ODBC binding (odbc.node), from source: built on first use (build/odbc-addon.ts keeps
// it in dist/native/<target>/, rebuilt only when stale) and loaded by its path.
// build.ts replaces this whole file in the executable with a `require` of the addon by its literal
// path, which makes Bun embed the .node file (or, for a target built without the addon, with a
// function that throws): see odbcAddonPlugin there. Keep the export's name and shape in step.

/** The addon's exports (`connect`, `ODBCConnection`, ...). */
export function requireNativeOdbc(): unknown {
  const { ensureOdbcAddon } = require("../../../build/odbc-addon.ts") as typeof import("../../../build/odbc-addon.ts");
  return require(ensureOdbcAddon(`${process.platform}-${process.arch}`));
}
