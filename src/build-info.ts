// What this executable is: the package version and the target it was built for. build.ts defines
// TB_GW_BUILD_TARGET (e.g. "linux-arm64") in the compiled binary; from source it is not defined.
import pkg from "../package.json" with { type: "json" };

declare const TB_GW_BUILD_TARGET: string | undefined;
declare const TB_GW_ODBC_ADDON: boolean | undefined;

/** "linux-arm64" in a binary built for that target, undefined when running from source. */
export const buildTarget: string | undefined = typeof TB_GW_BUILD_TARGET === "string" ? TB_GW_BUILD_TARGET : undefined;

/**
 * False in an executable built without the ODBC binding (build.ts: a foreign target whose cross
 * toolchain is not installed); from source the binding is built on first use, so true.
 */
export const odbcInThisBuild: boolean = typeof TB_GW_ODBC_ADDON === "boolean" ? TB_GW_ODBC_ADDON : true;

/**
 * `tb-gw --version`: the version first (scripts read the first word), then where it runs:
 * "0.1.0 (linux-arm64)" from a binary, "0.1.0 (source, linux-x64)" from source.
 */
export function versionText(): string {
  return `${pkg.version} (${buildTarget ?? `source, ${process.platform}-${process.arch}`})`;
}
