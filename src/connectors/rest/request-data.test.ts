import { expect, test } from "bun:test";
import { jsonError } from "./request-data.ts";

test("jsonError names the place of a syntax error", () => {
  expect(jsonError('{"a": 1,, }')).toBe("malformed JSON at line 1, column 9 (byte 8): property name expected");
});

test("jsonError answers a body nested deeper than the stack instead of throwing (found by the converter fuzz)", () => {
  // deep enough to exhaust the recursive locating parser on any stack size Bun runs with
  expect(jsonError("[".repeat(2_000_000))).toBe("malformed JSON: nested too deeply");
});
