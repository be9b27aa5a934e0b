// Offline advice on an MQTT connector file (`tb-gw validate`, and the log of `run`): a shared
// subscription with a session that outlives the connection. Measured with three instances on
// mosquitto 2.0 (bench/scaleout.ts kill): after a kill -9 with no restart, a persistent session
// kept 33 % of the stream at the broker for the dead instance (never delivered); a 10 s session
// expiry lost 10 s of its share; a clean session lost only the messages in flight to it (3-6 of
// 6,000) while the other instances took over at once. README "Scaling out".

import type { ConnectorWarning } from "../../core/connector.ts";
import { sharedSubscription } from "./topic.ts";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export function lintMqtt(raw: Obj): ConnectorWarning[] {
  const key = Array.isArray(raw.mapping) ? "mapping" : "dataMapping";
  const mappings = Array.isArray(raw[key]) ? (raw[key] as unknown[]) : [];
  const shared = mappings.findIndex((m) => isObj(m) && typeof m.topicFilter === "string" && sharedSubscription(m.topicFilter) !== undefined);
  if (shared < 0 || !isObj(raw.broker)) return [];
  const broker = raw.broker;
  const filter = (mappings[shared] as Obj).topicFilter as string;
  const version = broker.version === 3 || broker.version === 4 ? broker.version : 5;
  const after = `(the other instances take over at once with ${version === 5 ? "cleanStart: true and sessionExpiryInterval: 0" : "cleanSession: true"}, the default; see README "Scaling out")`;
  if (version !== 5 && broker.cleanSession === false) {
    return [
      {
        path: ["broker", "cleanSession"],
        message: `shared subscription "${filter}" with a persistent session: while this instance is down the broker keeps its share of the stream for it (1/N of every device's messages), delivered only if it comes back and dropped when the session expires or the broker's queue for it is full ${after}`,
      },
    ];
  }
  const expiry = typeof broker.sessionExpiryInterval === "number" ? broker.sessionExpiryInterval : 0;
  if (version === 5 && expiry > 0 && broker.cleanStart === false) {
    return [
      {
        path: ["broker", "sessionExpiryInterval"],
        message: `shared subscription "${filter}" with a session kept ${expiry} s after a disconnect: when this instance stops, its share of the stream (1/N of every device's messages) waits at the broker for up to ${expiry} s and is dropped if it has not come back by then ${after}`,
      },
    ];
  }
  return [];
}
