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

test("connectors' own counters (Connector.ownCounters) per period in connectorsStats; a restarted connector counts from 0", () => {
  const put: string[][] = [];
  let own = { framesReceived: 10, framesDropped: 2 };
  const running = [{ name: "CAN", connector: { ownCounters: () => own } }, { name: "Quiet", connector: {} }];
  const gw = {
    senderStats: { messagesSent: 0, datapointsSent: 0, bytesSent: 0, recordsAcked: 0, datapointsAcked: 0 },
    pipeline: { stats: new Map([["CAN", { messagesReceived: 8, datapointsReceived: 8, recordsStored: 8, dropped: 2 }]]) },
    connectors: { all: () => running },
    platform: { limits: { maxPayloadBytes: 65536 } },
    storage: { put: (r: string[]) => put.push(r), depth: () => 0 },
  };
  const s = new Statistics(gw as never, { enable: true, statsSendPeriodInSeconds: 60, customStatsSendPeriodInSeconds: 3600 }, "/tmp", new Logger("t"));
  const send = () => (s as unknown as { sendMachineStats(): void }).sendMachineStats();
  const last = () => JSON.parse(put[put.length - 1]![0]!).telemetry[0].values.connectorsStats;
  send();
  expect(last()).toEqual({ CAN: { storageMsgPushed: 8, connectorMsgsReceived: 8, dropped: 2, framesReceived: 10, framesDropped: 2 } });
  own = { framesReceived: 25, framesDropped: 2 };
  send();
  expect(last().CAN).toMatchObject({ framesReceived: 15, framesDropped: 0 });
  // restarted (config change): counting from 0 again, the period is the whole count
  own = { framesReceived: 4, framesDropped: 1 };
  send();
  expect(last().CAN).toMatchObject({ framesReceived: 4, framesDropped: 1 });
});
