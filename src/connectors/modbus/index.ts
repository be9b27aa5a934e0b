// Modbus connector descriptor: schema and lazy factory; the protocol library loads only when used.
import type { ConnectorDescriptor, PollTarget } from "../../core/connector.ts";
import { ModbusConfigSchema, type ModbusConfig } from "./schema.ts";
import { isObj, list, text, type Obj } from "../../core/raw-config.ts";

/** Modbus master: one target per slave and unit id (TCP/UDP host:port, or the serial port). */
function pollTargets(raw: Obj): PollTarget[] {
  const out: PollTarget[] = [];
  list(isObj(raw.master) ? raw.master.slaves : undefined).forEach((s, i) => {
    if (!isObj(s)) return;
    const type = text(s.type, "tcp").toLowerCase();
    const where = type === "serial" ? `serial ${text(s.port)}` : `${type} ${text(s.host, "127.0.0.1")}:${text(s.port, "502")}`;
    const units = Array.isArray(s.unitIds) ? s.unitIds.map((u) => text(u)) : [text(s.unitId, "0")];
    for (const u of units) out.push({ path: ["master", "slaves", i], target: `modbus ${where} unit ${u}` });
  });
  return out;
}

export const descriptor: ConnectorDescriptor<ModbusConfig> = {
  type: "modbus",
  schema: ModbusConfigSchema as never,
  title: "Modbus master/slave over TCP, UDP and serial (RTU/ASCII)",
  pollTargets,
  async create(config, ctx) {
    const { ModbusConnector } = await import("./connector.ts");
    return new ModbusConnector(config, ctx);
  },
  /** run --check: templates expanded, each slave's read plan and custom uplink and downlink converters, as start() builds them (the slave server is not started). */
  async prepare(config, ctx) {
    const { expandTemplates, linkOptionsOf, loadSlaveUplink, loadSlaveDownlink } = await import("./connector.ts");
    const { PolledSlave } = await import("./device.ts");
    const { ModbusLink } = await import("./link.ts");
    for (const s of expandTemplates(config.master.slaves)) {
      new PolledSlave(s, new ModbusLink(linkOptionsOf(s), ctx.log), ctx, ctx.log);
      await loadSlaveUplink(s, ctx);
      await loadSlaveDownlink(s, ctx);
    }
  },
  registerScan(scan) {
    scan
      .command("modbus")
      .description("find responding Modbus unit ids (and on serial the line settings); never writes")
      .argument("<target>", "serial device path (/dev/ttyUSB0) or host[:port]")
      .option("--units <range>", "unit ids to try, e.g. 1-247 or 1,2,10-20", "1-247")
      .option("--bauds <list>", "serial: baud rates to try", "9600,19200,38400,57600,115200")
      .option("--parities <list>", "serial: parities to try (N,E,O)", "N,E")
      .option("--framing <list>", "framings to try: rtu,ascii (serial) or socket,rtu (tcp)", "")
      .option("--timeout <ms>", "per-request timeout", "200")
      .option("--probe <spec>", "also probe register ranges, e.g. 3:0-99,4:0-9,1:0-15")
      .option("--json", "print results as JSON")
      .option("--emit-config <file>", "write a modbus.json skeleton for what was found")
      .addHelpText("after", "\nExamples:\n  tb-gw scan modbus /dev/ttyUSB0 --bauds 9600,19200\n  tb-gw scan modbus 127.0.0.1:502 --units 1-10 --probe 3:0-9 --json\n")
      .action(async (target: string, opts: Record<string, string | boolean | undefined>) => {
        const { runScan } = await import("./scan.ts");
        process.exitCode = await runScan(target, opts);
      });
  },
};
