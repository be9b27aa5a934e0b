# Independent Modbus serial master for tb-gw slave-mode tests: Debian's pymodbus 3.0 (/usr/bin/python3).
# Usage: pymodbus_client.py '<json>' where json = {port, framer: rtu|ascii, baudrate, unit, ops: [...]}; ops:
#   {"op": "read", "fc": 1-4, "address", "count"}      -> RESULT {"values": [...]}
#   {"op": "write", "fc": 5|6|15|16, "address", "values"} -> RESULT {"ok": true}
#   {"op": "raw", "hex": "..."}                       -> bytes written as they are (malformed frames); RESULT {"sent": n}
#   {"op": "ident", "code": 1-4, "object": id}        -> RESULT {"objects": {id: text}}
# Each op prints one RESULT line (or RESULT {"error": ...}); "DONE" at the end.
import json, sys, logging
from pymodbus.client import ModbusSerialClient
from pymodbus.transaction import ModbusRtuFramer, ModbusAsciiFramer
from pymodbus.mei_message import ReadDeviceInformationRequest

logging.basicConfig(level=logging.CRITICAL)
cfg = json.loads(sys.argv[1])
framer = {"rtu": ModbusRtuFramer, "ascii": ModbusAsciiFramer}[cfg.get("framer", "rtu")]
c = ModbusSerialClient(cfg["port"], framer=framer, baudrate=cfg.get("baudrate", 19200), timeout=1, retries=1)
if not c.connect():
    print("RESULT " + json.dumps({"error": "cannot open " + cfg["port"]}), flush=True)
    sys.exit(1)
unit = cfg.get("unit", 1)


def run(op):
    kind = op["op"]
    if kind == "raw":
        data = bytes.fromhex(op["hex"])
        c.socket.write(data)
        c.socket.flush()
        return {"sent": len(data)}
    if kind == "ident":
        r = c.execute(ReadDeviceInformationRequest(read_code=op.get("code", 1), object_id=op.get("object", 0), unit=unit))
        if r.isError():
            return {"error": str(r)}
        return {"objects": {str(k): v.decode() for k, v in r.information.items()}}
    fc, addr = op["fc"], op["address"]
    if kind == "read":
        fn = {1: c.read_coils, 2: c.read_discrete_inputs, 3: c.read_holding_registers, 4: c.read_input_registers}[fc]
        r = fn(addr, op["count"], slave=unit)
        if r.isError():
            return {"error": str(r)}
        vals = r.bits[: op["count"]] if fc in (1, 2) else r.registers
        return {"values": [int(v) for v in vals]}
    vals = op["values"]
    if fc == 5:
        r = c.write_coil(addr, bool(vals[0]), slave=unit)
    elif fc == 6:
        r = c.write_register(addr, vals[0], slave=unit)
    elif fc == 15:
        r = c.write_coils(addr, [bool(v) for v in vals], slave=unit)
    else:
        r = c.write_registers(addr, vals, slave=unit)
    return {"error": str(r)} if r.isError() else {"ok": True}


for op in cfg["ops"]:
    try:
        res = run(op)
    except Exception as e:  # report and go on: the test decides what an error means
        res = {"error": repr(e)}
    print("RESULT " + json.dumps(res), flush=True)
c.close()
print("DONE", flush=True)
