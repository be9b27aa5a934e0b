// What `tb-gw run` and `tb-gw run --check` do first, alike: the log level, the instance this
// process is (`--instance N`, else TB_GW_INSTANCE), then loading the config. Written once so the
// check cannot come to accept an instance id or a config (or report a bad one) differently from the
// run it stands for.

import { ConfigError, formatDiagnostics } from "../config/diagnostics.ts";
import { resolveInstance } from "../config/instance.ts";
import { type GatewayConfig, loadGatewayConfig, type LoadOptions } from "../config/load.ts";
import { errorText, setLogLevel } from "../observe/logger.ts";

/** The instance id (undefined: none), or the exit code when the id is not valid (said on stderr). */
export type RunStart = { instance: string | undefined } | { exitCode: number };

export function startOfRun(opts: { logLevel?: string; instance?: string }): RunStart {
  if (opts.logLevel) setLogLevel(opts.logLevel);
  try {
    return { instance: resolveInstance(opts.instance) };
  } catch (e) {
    process.stderr.write(`tb-gw: ${errorText(e)}\n`);
    return { exitCode: 2 };
  }
}

/**
 * Load and check the config as `run` does; config errors are printed on stderr with their places,
 * followed by `tb-gw: the config has errors; <consequence>`. Undefined then (exit code 1).
 */
export async function loadForRun(path: string | undefined, opts: LoadOptions, consequence: string): Promise<GatewayConfig | undefined> {
  try {
    return await loadGatewayConfig(path, opts);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${formatDiagnostics(e.diagnostics, { color: process.stderr.isTTY })}\n`);
      process.stderr.write(`tb-gw: the config has errors; ${consequence}\n`);
    } else process.stderr.write(`tb-gw: ${errorText(e)}\n`);
    return undefined;
  }
}
