// `tb-gw bench`: measure how much the uplink engine carries on this machine.

import { Option, type Command, type OptionValues } from "commander";
import { errorText } from "../src/observe/logger.ts";

export function register(program: Command): void {
  program
    .command("bench")
    .description("load the real uplink engine (storage → platform) with synthetic devices and report throughput, latency, memory and CPU")
    .option("--duration <s>", "seconds of load", "10")
    .option("--devices <n>", "simulated devices", "1000")
    .option("--keys <n>", "telemetry keys per device message", "10")
    .option("--rate <dp/s>", "datapoints per second offered; 0 = as fast as possible", "0")
    .option("--storage <kind>", "memory, sqlite or file (in a temp folder, removed afterwards)", "memory")
    .option("--payload-size <bytes>", "approximate size of each value (string values); 0 = numbers", "0")
    .option("--broker <url>", "send to this MQTT broker / platform (mqtt://host:port) instead of the embedded endpoint")
    .option("--max-depth <records>", "records allowed to wait in storage before intake pauses (as-fast-as-possible mode); latency grows with it", "2000")
    .option("--json", "print the result as JSON on stdout")
    .option("--heap-ram-mb <MB>", "size the JS heap as on a machine with this much RAM (BUN_JSC_forceRAMSize; the bench re-runs itself with it); 0 = this machine's RAM", "2048")
    // internal: the bench's platform side (embedded endpoint + counter) as a child of the single executable
    .addOption(new Option("--platform-side").hideHelp())
    .addHelpText(
      "after",
      `
Examples:
  tb-gw bench                                       10 s, 1000 devices × 10 keys, memory storage
  tb-gw bench --storage sqlite --duration 30
  tb-gw bench --rate 50000 --broker mqtt://127.0.0.1:1883 --json

Each device message carries --keys values; the gateway stores it, packs it with others and
publishes it to the platform with QoS 1. Latency runs from the message entering the pipeline to
the platform's PUBACK. A live progress line goes to stderr; the final table (or JSON) to stdout.
Platform rate limits are switched off: the engine is measured, not the platform's policy.`,
    )
    .action(async (opts: OptionValues) => {
      if (opts.platformSide) {
        const { runPlatformSide } = await import("../src/bench/platform-side.ts");
        await runPlatformSide(opts.broker as string | undefined);
        process.exit(0);
      }
      const num = (name: string, v: unknown, min: number) => {
        const x = Number(v);
        if (!Number.isFinite(x) || x < min) {
          process.stderr.write(`tb-gw bench: --${name} must be a number ≥ ${min}, got ${String(v)}\n`);
          process.exit(2);
        }
        return x;
      };
      // JavaScriptCore grows its heap in proportion to the RAM it sees: on a 24 GB host the engine
      // peaked at ~180 MB RSS, with the heap sized as on a 2 GB gateway at ~125 MB, at the same
      // throughput. The option is read at process start only, hence the re-run.
      const heapRamMb = num("heap-ram-mb", opts.heapRamMb, 0);
      const forced = heapRamMb > 0 ? String(Math.round(heapRamMb * 1048576)) : undefined;
      if (forced && process.env.BUN_JSC_forceRAMSize !== forced) {
        const { spawn } = await import("node:child_process");
        const compiled = import.meta.url.includes("$bunfs");
        const child = spawn(process.execPath, [...(compiled ? [] : [process.argv[1]!]), ...process.argv.slice(2)], { stdio: "inherit", env: { ...process.env, BUN_JSC_forceRAMSize: forced } });
        for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => child.kill(sig));
        child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
        return;
      }
      const storage = String(opts.storage);
      if (!["memory", "sqlite", "file"].includes(storage)) {
        process.stderr.write(`tb-gw bench: --storage must be memory, sqlite or file, got ${storage}\n`);
        process.exit(2);
      }
      const { runBench, formatTable } = await import("../src/bench/run-bench.ts");
      try {
        const r = await runBench({
          duration: num("duration", opts.duration, 1),
          devices: num("devices", opts.devices, 1),
          keys: num("keys", opts.keys, 1),
          rate: num("rate", opts.rate, 0),
          payloadSize: num("payload-size", opts.payloadSize, 0),
          maxDepth: num("max-depth", opts.maxDepth, 100),
          storage: storage as "memory" | "sqlite" | "file",
          broker: opts.broker as string | undefined,
          quiet: !!opts.json && !process.stderr.isTTY,
          heapRamMb: forced ? heapRamMb : 0,
        });
        process.stdout.write(opts.json ? `${JSON.stringify(r, null, 2)}\n` : `${formatTable(r)}\n`);
        process.exit(0);
      } catch (e) {
        process.stderr.write(`tb-gw bench: ${errorText(e)}\n`);
        process.exit(1);
      }
    });
}
