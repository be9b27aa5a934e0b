// Statistics counts are per period (upstream resets its counters after each send).

import { expect, test } from "bun:test";
import { Statistics } from "../../src/observe/statistics.ts";
import { Logger } from "../../src/observe/logger.ts";

test("connectorsStats and platform counters cover one period each", () => {
  const put: string[][] = [];
  const pipelineStats = new Map([["Sensors", { messagesReceived: 5, datapointsReceived: 0, recordsStored: 5, dropped: 1 }]]);
  const senderStats = { messagesSent: 4, datapointsSent: 20, bytesSent: 0, recordsAcked: 0, datapointsAcked: 0 };
  const gw = {
    senderStats,
    pipeline: { stats: pipelineStats },
    platform: { limits: { maxPayloadBytes: 65536 } },
    storage: { put: (r: string[]) => put.push(r), depth: () => 0 },
  };
  const s = new Statistics(gw as never, { enable: true, statsSendPeriodInSeconds: 60, customStatsSendPeriodInSeconds: 3600 }, "/tmp", new Logger("t"));
  const send = () => (s as unknown as { sendMachineStats(): void }).sendMachineStats();
  const last = () => JSON.parse(put[put.length - 1]![0]!).telemetry[0].values;
  send();
  expect(last().connectorsStats.Sensors).toEqual({ storageMsgPushed: 5, connectorMsgsReceived: 5, dropped: 1 });
  expect(last().serviceStats.platformTsProduced).toBe(20);
  pipelineStats.get("Sensors")!.messagesReceived = 7;
  pipelineStats.get("Sensors")!.recordsStored = 7;
  senderStats.datapointsSent = 26;
  send();
  expect(last().connectorsStats.Sensors).toEqual({ storageMsgPushed: 2, connectorMsgsReceived: 2, dropped: 0 });
  expect(last().serviceStats.platformTsProduced).toBe(6);
});
