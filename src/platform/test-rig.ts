// For tests: the platform client and the sender over a memory storage, connected to a broker at
// `port` (usually the scriptable fake broker), with a Waiter woken by acknowledgements and
// platform state changes. Not a test file itself.

import { Waiter } from "../common/mqtt/test-peers.ts";
import { ThingsboardSchema } from "../config/main-schema.ts";
import { EventBus } from "../observe/events.ts";
import type { Logger } from "../observe/logger.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { PlatformClient } from "./client.ts";
import { Sender, type SenderOptions } from "./sender.ts";

export interface SenderRigOptions {
  port: number;
  log: Logger;
  /** Main-config `thingsboard` fields beyond host, port and an access token. */
  thingsboard: Record<string, unknown>;
  sender: SenderOptions;
  maxRecords: number;
  /** Environment the platform client reads (e.g. its PUBACK timeout). */
  env?: Record<string, string | undefined>;
}

export function senderRig(o: SenderRigOptions) {
  const events = new EventBus();
  const storage = new MemoryStorage({ maxRecords: o.maxRecords, log: o.log });
  const tb = ThingsboardSchema.parse({ host: "127.0.0.1", port: o.port, security: { type: "accessToken", accessToken: "t" }, ...o.thingsboard });
  let sender: Sender | undefined;
  const platform = new PlatformClient(
    tb,
    "/tmp",
    o.log,
    events,
    {
      attributeUpdate: () => {},
      deviceRpc: () => {},
      gatewayRpc: () => {},
      gatewayAttributes: () => {},
      ready: () => sender!.sessionReady(),
      lost: () => {},
    },
    o.env,
  );
  sender = new Sender(storage, platform, o.sender, events, o.log);
  const waiter = new Waiter();
  const off = events.on(() => waiter.notify(), ["acked", "platform"]);
  return {
    events,
    storage,
    platform,
    sender,
    waiter,
    /** Start sending, then connect. */
    async start(): Promise<void> {
      sender!.start();
      await platform.start();
    },
    async close(): Promise<void> {
      off();
      await sender!.stop();
      await platform.stop();
      await storage.close();
    },
  };
}
