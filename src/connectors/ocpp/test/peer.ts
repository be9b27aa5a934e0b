// Charge points for the OCPP tests and bench, both independent of the gateway's code:
// - charge_point.py: Python with Debian's python3-websockets, written against the OCPP-J frame
//   format by hand, driven over stdin/stdout and stopped by its PID;
// - ocpp-rpc's RPCClient (a Node OCPP-J library on the `ws` package).

import { spawn } from "node:child_process";
import { join } from "node:path";
import { RPCClient } from "ocpp-rpc";

const SCRIPT = join(import.meta.dir, "charge_point.py");

export interface PyChargePoint {
  lines(): string[];
  /** The first output line from index `from` on matching `re`. */
  line(re: RegExp, what: string, from?: number, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Send one raw text frame. */
  send(text: string): void;
  /** Send a CALL and wait for the frame answering it (CALLRESULT or CALLERROR), parsed. */
  call(id: string, action: string, payload: unknown): Promise<unknown[]>;
  stop(): Promise<void>;
}

export function startPyChargePoint(url: string, opts: { auth?: string; protocol?: string; reject?: string[]; cafile?: string } = {}): PyChargePoint {
  const args = ["-u", SCRIPT, url];
  if (opts.auth) args.push("--auth", opts.auth);
  if (opts.protocol) args.push("--protocol", opts.protocol);
  if (opts.reject) args.push("--reject", opts.reject.join(","));
  if (opts.cafile) args.push("--cafile", opts.cafile);
  const proc = spawn("/usr/bin/python3", args, { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  let partial = "";
  let err = "";
  const waiters = new Set<() => boolean>();
  const notify = () => {
    for (const w of [...waiters]) if (w()) waiters.delete(w);
  };
  proc.stdout.on("data", (b: Buffer) => {
    partial += b.toString();
    const parts = partial.split("\n");
    partial = parts.pop()!;
    lines.push(...parts);
    notify();
  });
  proc.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((r) => proc.once("exit", () => (notify(), r())));

  const line = (re: RegExp, what: string, from = 0, timeoutMs = 15_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`charge_point.py: timed out waiting for ${what}; output:\n${lines.slice(-30).join("\n")}\n${err.slice(-1500)}`));
      }, timeoutMs);
      const check = () => {
        for (let i = from; i < lines.length; i++) {
          const m = lines[i]!.match(re);
          if (m) {
            clearTimeout(timer);
            resolve(m);
            return true;
          }
        }
        if (proc.exitCode !== null) {
          clearTimeout(timer);
          reject(new Error(`charge_point.py exited while waiting for ${what}; output:\n${lines.slice(-30).join("\n")}\n${err.slice(-1500)}`));
          return true;
        }
        return false;
      };
      if (!check()) waiters.add(check);
    });

  const send = (text: string) => void proc.stdin.write(text + "\n");
  return {
    lines: () => lines,
    line,
    send,
    async call(id, action, payload) {
      const from = lines.length;
      send(JSON.stringify([2, id, action, payload]));
      const escaped = id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const m = await line(new RegExp(`^RECV (\\[\\s*[34]\\s*,\\s*"${escaped}".*)$`), `the answer to ${action} ${id}`, from);
      return JSON.parse(m[1]!);
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.stdin.end();
      const killer = setTimeout(() => proc.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(killer);
    },
  };
}

export interface LibChargePoint {
  client: RPCClient;
  /** CALLs the Central System sent, in order. */
  received: Array<{ method: string; params: any }>;
}

/** An ocpp-rpc charge point; answers DataTransfer with its data and every other Central System action with Accepted. */
export async function connectLibChargePoint(endpoint: string, identity: string, headers: Record<string, string> = {}): Promise<LibChargePoint> {
  // the library's option type lists every option as required; these are the ones that matter here
  const client = new RPCClient({ endpoint, identity, protocols: ["ocpp1.6"], strictMode: false, reconnect: false, headers } as unknown as ConstructorParameters<typeof RPCClient>[0]);
  const received: LibChargePoint["received"] = [];
  client.handle(async ({ method, params }) => {
    received.push({ method: method!, params });
    if (method === "DataTransfer") return { status: "Accepted", data: params?.data };
    return { status: "Accepted" };
  });
  await client.connect();
  return { client, received };
}
