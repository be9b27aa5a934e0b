# Independent Modbus device for tb-gw tests: Debian's pymodbus 3.0 (run with /usr/bin/python3).
# Usage: pymodbus_peer.py '<json>' where json = {transport: tcp|udp|serial, host, port, framer: socket|rtu|ascii,
#   baudrate, parity, units: [ids], hr/ir/co/di: {address: value}}.
# Prints "READY" once serving and "WRITE <unit> <table> <address> <values>" for every write a client makes.
# Optional decodeBits: {hr: [addresses], ir: [addresses]} prints "BITS <table> <address> [0/1 x 16]".
import asyncio, json, sys, logging
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
from pymodbus.server import StartAsyncTcpServer, StartAsyncUdpServer, StartAsyncSerialServer
from pymodbus.transaction import ModbusSocketFramer, ModbusRtuFramer, ModbusAsciiFramer
from pymodbus.payload import BinaryPayloadBuilder, BinaryPayloadDecoder
from pymodbus.constants import Endian

logging.basicConfig(level=logging.CRITICAL)
cfg = json.loads(sys.argv[1])
SIZE = 10000


class ReportingBlock(ModbusSequentialDataBlock):
    def __init__(self, unit, table, values):
        super().__init__(0, [0] * SIZE)
        self.unit, self.table = unit, table
        for addr, val in values.items():
            super().setValues(int(addr), [val])

    def setValues(self, address, values):
        super().setValues(address, values)
        vals = values if isinstance(values, list) else [values]
        print(f"WRITE {self.unit} {self.table} {address} {json.dumps([int(v) for v in vals])}", flush=True)


def encoded(items):
    # Independent reference encoding: pymodbus' own payload builder, as the Python gateway uses it.
    out = {}
    for it in items:
        order = lambda o: Endian.Big if o == "BIG" else Endian.Little
        b = BinaryPayloadBuilder(byteorder=order(it["byteOrder"]), wordorder=order(it["wordOrder"]))
        kind = it["type"]
        if kind == "string":
            b.add_string(it["value"])
        else:
            getattr(b, "add_" + {
                "8int": "8bit_int", "8uint": "8bit_uint", "16int": "16bit_int", "16uint": "16bit_uint",
                "16float": "16bit_float", "32int": "32bit_int", "32uint": "32bit_uint", "32float": "32bit_float",
                "64int": "64bit_int", "64uint": "64bit_uint", "64float": "64bit_float"}[kind])(it["value"])
        regs = b.to_registers()
        print(f"ENCODED {it['address']} {json.dumps(regs)}", flush=True)
        for i, r in enumerate(regs):
            out[str(it["address"] + i)] = r
    return out


def slave(unit):
    t = {k: dict(cfg.get(k, {})) for k in ("hr", "ir", "co", "di")}
    t["hr"].update(encoded(cfg.get("encode", [])))
    return ModbusSlaveContext(
        hr=ReportingBlock(unit, "hr", t["hr"]), ir=ReportingBlock(unit, "ir", t["ir"]),
        co=ReportingBlock(unit, "co", t["co"]), di=ReportingBlock(unit, "di", t["di"]), zero_mode=True)


def bits_reference():
    # Independent reference for `bits` read from registers: pymodbus' own decoder, driven as the
    # Python gateway drives it (two decode_bits calls over the registers read).
    for table, addresses in cfg.get("decodeBits", {}).items():
        for addr in addresses:
            d = BinaryPayloadDecoder.fromRegisters([int(cfg.get(table, {}).get(str(addr), 0))])
            bits = d.decode_bits() + d.decode_bits()
            print(f"BITS {table} {addr} {json.dumps([int(b) for b in bits])}", flush=True)


bits_reference()
units = cfg.get("units", [1])
context = ModbusServerContext(slaves={u: slave(u) for u in units}, single=False)
framer = {"socket": ModbusSocketFramer, "rtu": ModbusRtuFramer, "ascii": ModbusAsciiFramer}[cfg.get("framer", "socket")]


async def main():
    kind = cfg.get("transport", "tcp")
    if kind == "serial":
        server = await StartAsyncSerialServer(context=context, framer=framer, port=cfg["port"], defer_start=True,
                                              baudrate=cfg.get("baudrate", 19200), parity=cfg.get("parity", "N"),
                                              stopbits=cfg.get("stopbits", 1), bytesize=8, timeout=0.005)
        await server.start()
        print("READY", flush=True)
        await server.serve_forever()
        return
    start = StartAsyncTcpServer if kind == "tcp" else StartAsyncUdpServer
    # "hosts": the same device on several loopback addresses (the benchmark's one-connection-per-slave).
    servers = [await start(context=context, framer=framer, address=(h, cfg["port"]), defer_start=True,
                           allow_reuse_address=True) for h in cfg.get("hosts", [cfg.get("host", "127.0.0.1")])]
    tasks = [asyncio.create_task(s.serve_forever()) for s in servers]
    for s in servers:
        await s.serving
    print("READY", flush=True)
    await asyncio.gather(*tasks)


asyncio.run(main())
