// Periodic statistics to the platform as the gateway's own telemetry (spec platform-api.md §8),
// and custom command statistics from the file named in statistics.configuration.

import { readFileSync, statfsSync } from "node:fs";
import { cpus, freemem, totalmem } from "node:os";
import { join } from "node:path";
import { toRecords } from "../core/records.ts";
import { GATEWAY_SELF } from "../platform/topics.ts";
import { errorText, type Logger } from "./logger.ts";
import type { Gateway } from "../core/gateway.ts";

interface StatsConfig {
  enable: boolean;
  enableCustom?: boolean;
  statsSendPeriodInSeconds: number;
  customStatsSendPeriodInSeconds: number;
  configuration?: string;
}

interface CustomCommand {
  timeout?: number;
  command: string | string[];
  attributeOnGateway: string;
}

export class Statistics {
  private timers: Array<ReturnType<typeof setInterval>> = [];
  private lastCpu = process.cpuUsage();
  private lastAt = Date.now();
  private lastSent = { messages: 0, datapoints: 0 };
  private lastConnector = new Map<string, { recordsStored: number; messagesReceived: number; dropped: number }>();
  /** Each running connector's own counters (Connector.ownCounters) at the last send. */
  private lastOwn = new Map<string, Readonly<Record<string, number>>>();
  private sentAttributes = false;

  constructor(
    private readonly gw: Gateway,
    private readonly cfg: StatsConfig,
    private readonly configDir: string,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (!this.cfg.enable) return;
    const t = setInterval(() => this.sendMachineStats(), Math.max(10, this.cfg.statsSendPeriodInSeconds) * 1000);
    t.unref?.();
    this.timers.push(t);
    const custom = this.cfg.enableCustom ?? true;
    if (custom && this.cfg.configuration) {
      const commands = this.loadCommands(this.cfg.configuration);
      if (commands.length) {
        const run = () => void this.runCustom(commands);
        run(); // once at start, then every period
        const c = setInterval(run, this.cfg.customStatsSendPeriodInSeconds * 1000);
        c.unref?.();
        this.timers.push(c);
      }
    }
  }

  /** Once per platform session: static machine attributes. */
  sessionStarted(): void {
    if (!this.cfg.enable || this.sentAttributes) return;
    this.sentAttributes = true;
    this.put({ attributes: { totalMemory: totalmem(), totalDisk: diskTotal(this.configDir), cpuCount: cpus().length } });
  }

  private put(d: { attributes?: Record<string, unknown>; telemetry?: Array<{ ts?: number; values: Record<string, unknown> }> }): void {
    const recs = toRecords({ deviceName: GATEWAY_SELF, ...d }, "default", Date.now(), this.gw.platform.limits.maxPayloadBytes);
    this.gw.storage.put(recs);
  }

  private sendMachineStats(): void {
    const now = Date.now();
    const cpu = process.cpuUsage(this.lastCpu);
    const elapsedUs = (now - this.lastAt) * 1000 || 1;
    this.lastCpu = process.cpuUsage();
    this.lastAt = now;
    const s = this.gw.senderStats;
    // Counts per period, like upstream (its counters reset after each send); ours stay cumulative
    // for the status endpoint, so the period's share is the difference to the last send.
    const connectorsStats: Record<string, Record<string, number>> = {};
    for (const [name, st] of this.gw.pipeline.stats) {
      const prev = this.lastConnector.get(name) ?? { recordsStored: 0, messagesReceived: 0, dropped: 0 };
      connectorsStats[name] = {
        storageMsgPushed: st.recordsStored - prev.recordsStored,
        connectorMsgsReceived: st.messagesReceived - prev.messagesReceived,
        dropped: st.dropped - prev.dropped,
      };
      this.lastConnector.set(name, { recordsStored: st.recordsStored, messagesReceived: st.messagesReceived, dropped: st.dropped });
    }
    this.addOwnCounters(connectorsStats);
    const mem = process.memoryUsage();
    this.put({
      telemetry: [
        {
          values: {
            machineStats: {
              totalCpuUsage: Math.round((cpu.user + cpu.system) / elapsedUs / cpus().length * 1000) / 10,
              freeMemory: freemem(),
              freeDisk: diskFree(this.configDir),
              gwProcessCpuUsage: Math.round(((cpu.user + cpu.system) / elapsedUs) * 1000) / 10,
              gwMemory: mem.rss,
              gwProcessMemoryFullInfo: { rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external },
              msgsSentToPlatform: s.messagesSent - this.lastSent.messages,
              msgsReceivedFromPlatform: 0,
            },
            serviceStats: {
              storageMsgCount: this.gw.storage.depth(),
              platformMsgPushed: s.messagesSent - this.lastSent.messages,
              platformTsProduced: s.datapointsSent - this.lastSent.datapoints,
            },
            connectorsStats,
          },
        },
      ],
    });
    this.lastSent = { messages: s.messagesSent, datapoints: s.datapointsSent };
  }

  /**
   * Connectors' own counters (e.g. CAN frames received, converted, dropped), per period like the
   * others. A connector restarted meanwhile (config change) counts from 0 again: its period is
   * then its whole count.
   */
  private addOwnCounters(connectorsStats: Record<string, Record<string, number>>): void {
    const seen = new Set<string>();
    for (const running of this.gw.connectors?.all() ?? []) {
      let now: Readonly<Record<string, number>> | undefined;
      try {
        now = running.connector.ownCounters?.();
      } catch (e) {
        this.log.warn(`connector ${running.name}: its counters cannot be read: ${errorText(e)}`);
      }
      if (!now) continue;
      seen.add(running.name);
      const prev = this.lastOwn.get(running.name) ?? {};
      const restarted = Object.entries(now).some(([k, v]) => v < (prev[k] ?? 0));
      const out = (connectorsStats[running.name] ??= {});
      for (const [k, v] of Object.entries(now)) out[k] = v - (restarted ? 0 : (prev[k] ?? 0));
      this.lastOwn.set(running.name, { ...now });
    }
    for (const name of this.lastOwn.keys()) if (!seen.has(name)) this.lastOwn.delete(name);
  }

  private loadCommands(file: string): CustomCommand[] {
    try {
      const list = JSON.parse(readFileSync(join(this.configDir, file), "utf8"));
      return Array.isArray(list) ? list.filter((c) => c && c.command && c.attributeOnGateway) : [];
    } catch (e) {
      this.log.warn(`custom statistics file ${file} cannot be read: ${errorText(e)}`);
      return [];
    }
  }

  private async runCustom(commands: CustomCommand[]): Promise<void> {
    // loaded here: most gateways configure no custom commands
    const { execFile } = await import("node:child_process");
    const values: Record<string, unknown> = {};
    await Promise.all(
      commands.map(
        (c) =>
          new Promise<void>((resolve) => {
            const [cmd, args] = Array.isArray(c.command) ? [c.command[0]!, c.command.slice(1)] : ["/bin/sh", ["-c", c.command]];
            execFile(cmd, args, { timeout: (c.timeout ?? 10) * 1000 }, (err, stdout) => {
              const out = String(stdout ?? "").trim();
              if (!err && out) values[c.attributeOnGateway] = Number.isFinite(Number(out)) ? Number(out) : out;
              resolve();
            });
          }),
      ),
    );
    if (Object.keys(values).length) this.put({ telemetry: [{ values }] });
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}

function diskTotal(dir: string): number {
  try {
    const s = statfsSync(dir);
    return s.blocks * s.bsize;
  } catch {
    return 0;
  }
}

function diskFree(dir: string): number {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return 0;
  }
}
