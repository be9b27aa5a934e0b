// A real Mosquitto broker on a free loopback port, for the device side or the platform side.
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.ts";
import { startProcess, type Started } from "./process.ts";

export interface Broker {
  port: number;
  /** PID of the running broker process (for CPU/RSS figures), undefined while stopped. */
  readonly pid: number | undefined;
  url: string;
  /** The broker's log so far (connects with client id and username at information level). */
  output(): string;
  /** Stop the broker process (the port stays reserved for `start()`). */
  stop(): Promise<void>;
  /** (Re)start on the same port. */
  start(): Promise<void>;
  /** Stop and remove its files. */
  dispose(): Promise<void>;
}

const MOSQUITTO = process.env.MOSQUITTO_BIN ?? "/usr/sbin/mosquitto";

/**
 * `persistent: true` keeps sessions and queued messages across stop()/start() (saved to the
 * broker's temp folder on SIGTERM), as a production broker would.
 */
export async function startMosquitto(opts: { port?: number; extraConfig?: string; persistent?: boolean } = {}): Promise<Broker> {
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "tbgw-mosq-"));
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      opts.persistent ? `persistence true\npersistence_location ${dir}/\nautosave_interval 0` : "persistence false",
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "log_type notice",
      "log_type information",
      "max_inflight_messages 0",
      "max_queued_messages 0",
      "set_tcp_nodelay true",
      opts.extraConfig ?? "",
    ].join("\n"),
  );
  let proc: Started | undefined;
  let earlier = "";
  const broker: Broker = {
    port,
    output: () => earlier + (proc?.output() ?? ""),
    get pid() {
      return proc?.proc.pid;
    },
    url: `mqtt://127.0.0.1:${port}`,
    async start() {
      proc = await startProcess(MOSQUITTO, ["-c", conf], { ready: / running/ });
    },
    async stop() {
      const p = proc;
      proc = undefined;
      await p?.stop("SIGTERM");
      earlier += p?.output() ?? "";
    },
    async dispose() {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}
