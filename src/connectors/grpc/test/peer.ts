// The Python connector process (peer.py) from the tests' side: stubs generated once per test
// process from our messages.proto by Debian's grpc_tools.protoc, then one process per connector.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

export const PYTHON = "/usr/bin/python3";
const HERE = import.meta.dir;

let stubs: string | undefined;

/** Folder with messages_pb2.py and messages_pb2_grpc.py generated from ../messages.proto. */
export function pythonStubs(): string {
  if (stubs) return stubs;
  const dir = mkdtempSync(join(tmpdir(), "tbgw-grpc-stubs-"));
  const r = spawnSync(PYTHON, ["-m", "grpc_tools.protoc", `-I${join(HERE, "..")}`, `--python_out=${dir}`, `--grpc_python_out=${dir}`, "messages.proto"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`grpc_tools.protoc failed (apt-get install python3-grpc-tools): ${r.stderr}`);
  stubs = dir;
  return dir;
}

export type Msg = Record<string, any>;

export interface Peer {
  proc: ChildProcess;
  /** One unary call; resolves to the reply as protobuf JSON (field names as in the .proto) and its raw bytes. */
  call(msg: Msg): Promise<{ reply: Msg; raw: string; error?: string }>;
  /** Send bytes that are not a FromConnectorMessage. */
  raw(hex: string): Promise<{ rawReply?: string; error?: string }>;
  /** Poll (empty response) until a reply satisfies `pick`; other replies are kept in `seen`. */
  pollUntil(pick: (reply: Msg) => boolean, what: string, timeoutMs?: number): Promise<Msg>;
  seen: Msg[];
  kill(signal?: NodeJS.Signals): void;
  stop(): Promise<void>;
}

export async function startPeer(port: number, identifier: string | null = crypto.randomUUID()): Promise<Peer> {
  const proc = spawn(PYTHON, [join(HERE, "peer.py"), String(port), identifier ?? "-"], { env: { ...process.env, PYTHONPATH: pythonStubs() }, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr!.on("data", (b) => (stderr += b));
  const lines = createInterface({ input: proc.stdout! });
  const waiting: Array<(l: string) => void> = [];
  lines.on("line", (l) => waiting.shift()?.(l));
  const next = () =>
    new Promise<any>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`peer.py did not answer within 30 s; stderr: ${stderr}`)), 30_000);
      waiting.push((l) => {
        clearTimeout(t);
        resolve(JSON.parse(l));
      });
    });
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const ready = next();
  await Promise.race([ready, exited.then(() => Promise.reject(new Error(`peer.py exited at start: ${stderr}`)))]);
  const seen: Msg[] = [];
  const peer: Peer = {
    proc,
    seen,
    call(msg) {
      const r = next();
      proc.stdin!.write(JSON.stringify({ call: msg }) + "\n");
      return r;
    },
    raw(hex) {
      const r = next();
      proc.stdin!.write(JSON.stringify({ raw: hex }) + "\n");
      return r;
    },
    async pollUntil(pick, what, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await peer.call({ response: {} });
        if (r.error) throw new Error(`poll for ${what} failed: ${r.error}`);
        if (pick(r.reply)) return r.reply;
        if (r.raw !== "0a00") seen.push(r.reply);
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms polling for ${what}; other replies: ${JSON.stringify(seen.slice(-5))}`);
        await Bun.sleep(50); // polling is the protocol: the connector asks, the gateway never pushes
      }
    },
    kill(signal = "SIGKILL") {
      proc.kill(signal);
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGKILL");
        await exited;
      }
    },
  };
  return peer;
}
