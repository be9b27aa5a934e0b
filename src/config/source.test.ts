// parseSource's fast path for valid JSON: a duplicate key anywhere (nested, escaped, next to
// strings that look like keys) still sends the file to the tolerant parser, which reports it.

import { expect, test } from "bun:test";
import { parseSource } from "./source.ts";

const parse = (text: string) => parseSource("x.json", new TextEncoder().encode(text));
const duplicateReported = (text: string) => parse(text).diagnostics.some((d) => /duplicate|twice|more than once/i.test(d.message));

test("valid JSON without duplicate keys: value from JSON.parse, no diagnostics", () => {
  const text = '{"a": "x:\\" : y", "b": ["c:", {"d": "\\\\"}], "e" :\n {"a": 1, "f\\"g": {}}, "__proto__": 2}';
  const doc = parse(text);
  expect(doc.diagnostics).toEqual([]);
  expect(doc.value).toEqual(JSON.parse(text));
});

test("a key named twice is reported wherever it is", () => {
  expect(duplicateReported('{"a": 1, "a": 2}')).toBe(true);
  expect(duplicateReported('{"x": [{"k": 1}, {"k": 2, "b": {"c": "\\"", "c" : 3}}]}')).toBe(true);
  expect(duplicateReported('{"a\\"b": 1, "a\\"b": 2}')).toBe(true);
  expect(duplicateReported('{"__proto__": 1, "__proto__": 2}')).toBe(true);
  // the same key in different objects is not a duplicate
  expect(duplicateReported('{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}')).toBe(false);
});
