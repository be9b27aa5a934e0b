// A ConnectorContext that records what a connector hands to the gateway, for connector tests.
// The device side of such tests is a real peer; this stands in for the core only.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConnectorContext, SendStatus } from "../../src/core/connector.ts";
import type { ConvertedData, RpcReply } from "../../src/core/model.ts";
import { Logger } from "../../src/observe/logger.ts";

export interface RecordingContext extends ConnectorContext {
  sent: ConvertedData[];
  added: Array<{ name: string; deviceType?: string }>;
  deleted: string[];
  replies: Array<{ device: string; id: number | string; reply: RpcReply }>;
  /** Shared attributes the fake platform answers `requestAttributes` with, per device. */
  attributes: Record<string, Record<string, unknown>>;
  attributeRequests: Array<{ device: string; keys: string[]; scope: string }>;
  /** Messages the connector reported through countDropped. */
  dropped: number;
  /** Resolves when `pred` holds over `sent` (checked on every send); rejects after timeoutMs. */
  waitFor(pred: (sent: ConvertedData[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
}

export function recordingContext(opts: Partial<Pick<ConnectorContext, "name" | "id" | "type" | "configDir">> = {}): RecordingContext {
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const ctx: RecordingContext = {
    name: opts.name ?? "Test Connector",
    id: opts.id ?? "test-connector-id",
    type: opts.type ?? "test",
    configDir: opts.configDir ?? process.cwd(),
    dataDir: mkdtempSync(join(tmpdir(), "tbgw-ctx-")),
    log: new Logger(opts.name ?? "test"),
    sent: [],
    added: [],
    deleted: [],
    replies: [],
    attributes: {},
    attributeRequests: [],
    dropped: 0,
    countDropped(_reason, count = 1) {
      ctx.dropped += count;
    },
    async sendData(data): Promise<SendStatus> {
      for (const d of Array.isArray(data) ? data : [data]) ctx.sent.push(d);
      notify();
      return "SUCCESS";
    },
    addDevice(name, deviceType) {
      ctx.added.push({ name, deviceType });
      notify();
    },
    delDevice(name) {
      ctx.deleted.push(name);
      notify();
    },
    async requestAttributes(device, keys, scope) {
      ctx.attributeRequests.push({ device, keys, scope });
      const all = ctx.attributes[device] ?? {};
      if (keys.length === 0) return { ...all };
      return Object.fromEntries(keys.filter((k) => k in all).map((k) => [k, all[k]]));
    },
    sendRpcReply(device, id, reply) {
      ctx.replies.push({ device, id, reply });
      notify();
    },
    waitFor(pred, timeoutMs = 10000, what = "condition") {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pred(ctx.sent)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(ctx.sent).slice(0, 2000)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
  return ctx;
}
