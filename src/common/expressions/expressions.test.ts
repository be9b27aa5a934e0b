import { describe, expect, test } from "bun:test";
import {
  compileTemplate,
  convertType,
  EXPRESSION_INSTEAD_OF_NONE,
  fillPlaceholders,
  KEEP_EXPRESSION,
  messageTimestamp,
  NONE_SKIPS,
  NULL_IN_TEXT,
  parseDateText,
  render,
  SKIP,
  templateTags,
  attributeText,
} from "./index.ts";

describe("tokenising", () => {
  test("finds tags with the upstream character class", () => {
    expect(templateTags("${data.values[0]} and ${$[0].x} and ${a b}")).toEqual(["data.values[0]", "$[0].x", "a b"]);
    expect(templateTags("${a:b} ${x-y} ${\"q\"} ${^z} ${w*}")).toEqual(["a:b", "x-y", '"q"', "^z", "w*"]);
  });
  test("characters outside the class do not form tokens", () => {
    expect(templateTags("${a@b} ${c?} ${f(x)}")).toEqual([]);
    expect(compileTemplate("${a@b}").literal).toBe(true);
  });
  test("no ${ means the whole string is a literal", () => {
    const t = compileTemplate("temperature");
    expect(t.literal).toBe(true);
    expect(render("temperature", { temperature: 1 }, NONE_SKIPS)).toBe("temperature");
  });
  test("pure vs mixed templates", () => {
    expect(compileTemplate("${a}").pure).toBe(true);
    expect(compileTemplate("x${a}").pure).toBe(false);
    expect(compileTemplate("${a}${b}").pure).toBe(false);
  });
});

describe("lookup", () => {
  const body = {
    temp: 21.5,
    "a b": 7,
    a: { b: [10, 20], "c d": { e: "deep" } },
    data: { values: [3, 4] },
    list: [{ x: 1 }, { x: 2 }],
    flag: false,
    zero: 0,
  };
  test("top-level key first", () => {
    expect(render("${temp}", body, NONE_SKIPS)).toBe(21.5);
    expect(render("${flag}", body, NONE_SKIPS)).toBe(false);
    expect(render("${zero}", body, NONE_SKIPS)).toBe(0);
  });
  test("the first word of a tag decides the top-level lookup (upstream quirk)", () => {
    // "a b": first word "a" is a top-level key, so `a` is returned, not body["a b"]
    expect(render("${a b}", body, NONE_SKIPS)).toEqual(body.a);
    expect(render("${a b}", { "a b": 7 }, NONE_SKIPS)).toBe(7);
  });
  test("dotted and indexed paths", () => {
    expect(render("${data.values[0]}", body, NONE_SKIPS)).toBe(3);
    expect(render("${a.b[1]}", body, NONE_SKIPS)).toBe(20);
    expect(render("${$.a.b[0]}", body, NONE_SKIPS)).toBe(10);
  });
  test("JSONPath: wildcard and slice give the first match, spaces in segments are quoted", () => {
    expect(render("${list[*].x}", body, NONE_SKIPS)).toBe(1);
    expect(render("${list[:].x}", body, NONE_SKIPS)).toBe(1);
    expect(render("${a.c d.e}", { a: { "c d": { e: "deep" } } }, NONE_SKIPS)).toBe("deep");
  });
  test("array bodies", () => {
    expect(render("${$[0].x}", [{ x: 9 }, { x: 8 }], NONE_SKIPS)).toBe(9);
    expect(render("${[1].x}", [{ x: 9 }, { x: 8 }], NONE_SKIPS)).toBe(8);
  });
  test("text bodies find nothing", () => {
    expect(render("${a}", "plain text", NONE_SKIPS)).toBe(SKIP);
  });
});

describe("policies for missing values", () => {
  const body = { a: 1, s: "x" };
  test("mqtt/rest: missing → skipped; mixed with a missing part → None text", () => {
    expect(render("${nope}", body, NONE_SKIPS)).toBe(SKIP);
    expect(render("${a}-${nope}", body, NONE_SKIPS)).toBe("1-None");
    // only the exact text None is skipped, as upstream compares with "None"
    expect(render("k_${nope}", body, NONE_SKIPS)).toBe("k_None");
    expect(render("${s}", { s: "None" }, NONE_SKIPS)).toBe("None");
    expect(render("${n}", { n: null }, NONE_SKIPS)).toBe(SKIP);
  });
  test("request: missing parts become null, all missing → skipped", () => {
    expect(render("${a}/${nope}", body, NULL_IN_TEXT)).toBe("1/null");
    expect(render("${x}/${y}", body, NULL_IN_TEXT)).toBe(SKIP);
  });
  test("ftp/ocpp: always text, missing keeps the expression", () => {
    expect(render("${a}", body, KEEP_EXPRESSION)).toBe("1");
    expect(render("${nope}", body, KEEP_EXPRESSION)).toBe("${nope}");
    expect(render("v=${nope}", body, KEEP_EXPRESSION)).toBe("v=${nope}");
  });
  test("device names: expression instead of none", () => {
    expect(render("${serial}", {}, EXPRESSION_INSTEAD_OF_NONE)).toBe("${serial}");
    expect(render("Device ${serial}", { serial: "A1" }, EXPRESSION_INSTEAD_OF_NONE)).toBe("Device A1");
  });
  test("text of non-strings follows upstream's str()", () => {
    expect(render("v=${b}", { b: true }, NONE_SKIPS)).toBe("v=True");
    expect(render("v=${o}", { o: { k: 1 } }, NONE_SKIPS)).toBe('v={"k":1}');
  });
});

describe("type hints", () => {
  test("int via float truncation", () => {
    expect(convertType("12.9", "int")).toBe(12);
    expect(convertType(-3.7, "integer")).toBe(-3);
    expect(convertType(" 42 ", "long")).toBe(42);
    expect(convertType(true, "int")).toBe(1);
  });
  test("float/double", () => {
    expect(convertType("1e3", "double")).toBe(1000);
    expect(convertType("21.5", "float")).toBe(21.5);
  });
  test("bool words", () => {
    for (const w of ["y", "yes", "t", "true", "on", "1", "TRUE"]) expect(convertType(w, "bool")).toBe(true);
    for (const w of ["n", "no", "f", "false", "off", "0"]) expect(convertType(w, "boolean")).toBe(false);
  });
  test("failures keep the value", () => {
    expect(convertType("abc", "int")).toBe("abc");
    expect(convertType("", "float")).toBe("");
    expect(convertType("maybe", "bool")).toBe("maybe");
    expect(convertType("{bad", "json")).toBe("{bad");
  });
  test("string and json", () => {
    expect(convertType(5, "string")).toBe("5");
    expect(convertType(false, "string")).toBe("False");
    expect(convertType('{"a":[1]}', "json")).toEqual({ a: [1] });
  });
});

describe("timestamps", () => {
  test("ts or timestamp field", () => {
    expect(messageTimestamp({ ts: 1700000000123 })).toBe(1700000000123);
    expect(messageTimestamp({ timestamp: "1700000000123" })).toBe(1700000000123);
    expect(messageTimestamp({ v: 1 })).toBeUndefined();
  });
  test("tsField with date text", () => {
    expect(messageTimestamp({ meta: { time: "2024-03-01T10:00:00Z" } }, { tsField: "${meta.time}" })).toBe(Date.UTC(2024, 2, 1, 10));
    expect(messageTimestamp({ t: "01/02/2024 10:00:00Z" }, { tsField: "t", dayfirst: true })).toBe(Date.UTC(2024, 1, 1, 10));
    expect(messageTimestamp({ t: "01/02/2024 10:00:00Z" }, { tsField: "t" })).toBe(Date.UTC(2024, 0, 2, 10));
  });
  test("naive date text is local time; offsets are honoured", () => {
    expect(parseDateText("2024-05-06 07:08:09", false, false)).toBe(new Date(2024, 4, 6, 7, 8, 9).getTime());
    expect(parseDateText("2024-05-06 07:08:09+02:00", false, false)).toBe(Date.UTC(2024, 4, 6, 5, 8, 9));
    expect(parseDateText("not a date", false, false)).toBeUndefined();
  });
});

describe("downlink placeholders", () => {
  test("topic and payload substitution", () => {
    const data = { id: 5, method: "setRelay", params: { on: true, ch: { n: 2 } } };
    const vars = { deviceName: "Dev 1", methodName: "setRelay", requestId: 5 };
    expect(fillPlaceholders("sensor/${deviceName}/request/${methodName}/${requestId}", vars)).toBe("sensor/Dev 1/request/setRelay/5");
    expect(fillPlaceholders("${params}", vars, { rpcData: data })).toBe('{"on":true,"ch":{"n":2}}');
    expect(fillPlaceholders('{"x":${params.ch.n}}', vars, { rpcData: data })).toBe('{"x":2}');
    expect(fillPlaceholders("${params}", vars, { rpcData: { params: "on" } })).toBe('"on"');
    expect(fillPlaceholders("${unknown}", vars)).toBe("${unknown}");
  });
  test("attribute values", () => {
    expect(attributeText(true)).toBe("true");
    expect(attributeText(null)).toBe("null");
    expect(attributeText({ a: 1 })).toBe('{"a":1}');
    expect(attributeText(2.5)).toBe("2.5");
  });
});
