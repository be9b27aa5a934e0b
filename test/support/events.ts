// A running gateway's events, as `tb-gw tail` gets them from its status socket: tests wait on them
// (an uplink means the data was accepted by storage) instead of sleeping.

import { subscribe } from "../../src/observe/tail/client.ts";
import type { SubscribeKind, WireEvent } from "../../src/observe/status/protocol.ts";

export interface EventLog {
  /** Events in the order the gateway emitted them. */
  events: WireEvent[];
  /** Events the gateway dropped because this reader fell behind (it says so in a "lost" line). */
  lost: number;
  /** Resolves with the first truthy `pick(events)`, checked on every event; rejects after timeoutMs. */
  waitFor<T>(pick: (events: WireEvent[]) => T | undefined | false, timeoutMs: number, what: string): Promise<T>;
  close(): void;
}

export async function watchEvents(socketPath: string, kinds: SubscribeKind[]): Promise<EventLog> {
  const events: WireEvent[] = [];
  let lost = 0;
  const waiters = new Set<() => void>();
  const sub = await subscribe(socketPath, kinds, (line) => {
    if (line.kind === "lost") lost += line.count;
    if (line.kind === "status" || line.kind === "error" || line.kind === "lost") return;
    events.push(line);
    for (const w of [...waiters]) w();
  });
  return {
    events,
    get lost() {
      return lost;
    },
    waitFor(pick, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const v = pick(events);
          if (v === undefined || v === false) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(v);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${events.length} events (${lost} lost), last: ${JSON.stringify(events.slice(-3)).slice(0, 1500)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => sub.close(),
  };
}
