// RPC and attribute-update rules on their own, with a recording stand-in for the database (the
// real-database checks are in sqlite.test.ts): which SQL runs with which BOUND parameters.

import { describe, expect, test } from "bun:test";
import type { OdbcResult } from "./addon.ts";
import { bindable, callSql, OdbcAttributeWriter, OdbcRpc } from "./downlink.ts";

function recorder(rows: Array<Record<string, unknown>> = []) {
  const calls: Array<[string, unknown[]]> = [];
  const execute = async (sql: string, params: unknown[]) => {
    calls.push([sql, params]);
    return rows as OdbcResult;
  };
  return { calls, execute };
}

describe("ODBC downlink", () => {
  test("a procedure name goes into the SQL text only when it is an identifier", () => {
    expect(callSql("proc", 0)).toBe("{CALL proc}");
    expect(callSql("s.proc", 2)).toBe("{CALL s.proc(?, ?)}");
    expect(() => callSql("p; DROP TABLE t", 0)).toThrow("is not a procedure name");
  });

  test("values are bound, never pasted: booleans as 1/0, objects as JSON text", () => {
    expect([true, false, 2, "a'b", null, { a: 1 }].map(bindable)).toEqual([1, 0, 2, "a'b", null, '{"a":1}']);
  });

  test("configured methods: a procedure, args, override by the RPC's params, result rows", async () => {
    const db = recorder([{ n: 5n }]);
    const rpc = new OdbcRpc({ enableUnknownRpc: false, overrideRpcConfig: true, methods: ["procedureOne", { name: "procedureTwo", args: ["One", 2, 3.0] }, { name: "count", query: "SELECT COUNT(*) AS n FROM t WHERE k = ?", args: ["x"], result: true }] }, db.execute);
    expect(await rpc.handle({ id: 1, device: "d", method: "procedureOne", params: {} })).toEqual({ success: true });
    expect(await rpc.handle({ id: 2, device: "d", method: "procedureTwo", params: {} })).toEqual({ success: true });
    expect(await rpc.handle({ id: 3, device: "d", method: "count", params: { args: ["y'; --"] } })).toEqual({ n: 5 });
    expect(db.calls).toEqual([
      ["{CALL procedureOne}", []],
      ["{CALL procedureTwo(?, ?, ?)}", ["One", 2, 3]],
      ["SELECT COUNT(*) AS n FROM t WHERE k = ?", ["y'; --"]],
    ]);
    expect(await rpc.handle({ id: 4, device: "d", method: "other", params: {} })).toMatchObject({ success: false });
    expect(db.calls.length).toBe(3);
  });

  test("reserved get/set: params text, empty params answered as upstream", async () => {
    const db = recorder([{ v: 1 }]);
    const rpc = new OdbcRpc({ enableUnknownRpc: false, overrideRpcConfig: false, methods: [] }, db.execute);
    expect(await rpc.handle({ id: 1, device: "d", method: "set", params: "" })).toEqual({ set: "RPC params are empty, expected format: set value={value};" });
    expect(await rpc.handle({ id: 2, device: "d", method: "get", params: "procedure_name=read_v;value=1,x;with_result=true" })).toEqual({ result: { v: 1 } });
    expect(db.calls).toEqual([["{CALL read_v(?, ?)}", [1, "x"]]]);
  });

  test("attribute updates: one statement per key with a rule, args from expressions", async () => {
    const db = recorder();
    const w = new OdbcAttributeWriter(
      [
        { attributeOnThingsBoard: "target", query: "UPDATE s SET v = ? WHERE d = ?", args: ["value * 2", "deviceName"] },
        { attributeOnThingsBoard: "*", procedure: "set_attr", args: ["deviceName", "key", "value"] },
      ],
      db.execute,
      () => "meter",
    );
    expect(await w.write({ device: "M1", data: { target: 21, mode: "eco" } })).toEqual([]);
    expect(db.calls).toEqual([
      ["UPDATE s SET v = ? WHERE d = ?", [42, "M1"]],
      ["{CALL set_attr(?, ?, ?)}", ["M1", "mode", "eco"]],
    ]);
  });
});
