// User code runs callbacks of its own (timers, stream events) outside any call the gateway makes; an
// exception there would end the process, and with it every other connector. Once a custom
// connector runs, errors whose stack lies in a loaded extensions folder are logged and the gateway
// goes on; any other uncaught error still ends the process, as it would without this guard.

import { errorText, type Logger } from "../../observe/logger.ts";

const folders = new Set<string>();
let installed = false;

/** Errors from modules under `dir` no longer end the process. */
export function guardExtensionFolder(dir: string, log: Logger): void {
  folders.add(dir.endsWith("/") ? dir : `${dir}/`);
  if (installed) return;
  installed = true;
  const handle = (kind: string) => (e: unknown) => {
    const stack = e instanceof Error ? (e.stack ?? "") : "";
    const from = [...folders].find((f) => stack.includes(f));
    if (from) {
      const frame = stack.split("\n").find((l) => l.includes(from))?.trim();
      log.error(`${kind} in extension code${frame ? ` (${frame})` : ""}: ${errorText(e)}; the gateway goes on`);
      return;
    }
    process.stderr.write(`tb-gw: ${kind}: ${stack || errorText(e)}\n`);
    process.exit(1);
  };
  process.on("uncaughtException", handle("uncaught exception"));
  process.on("unhandledRejection", handle("unhandled rejection"));
}
