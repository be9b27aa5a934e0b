// The statement layer (function.ts): Python function texts as upstream configs carry them
// (Request `processingFunction`), compiled once and called per answer, with every error at its offset.

import { describe, expect, test } from "bun:test";
import { checkFunction, compileFunction, ExpressionError, ExpressionRuntimeError, ExpressionSyntaxError, type FunctionOptions } from "./index.ts";
import { seededRandom } from "../../../../test/support/seeded-random.ts";

const OPTS: FunctionOptions = { name: "process_data", params: ["data", "key"], returns: "dict" };
const call = (src: string, data: unknown, key = "k") => compileFunction(src, OPTS).call(data, key);

// the upstream sample's text (request.json), character for character
const UPSTREAM = 'def process_data(data, key): return {key: float(data["values"][0]["avg"])/1000.0}';

describe("functions users write", () => {
  test("the upstream sample: one line, a dict display with the key parameter", () => {
    expect(call(UPSTREAM, { values: [{ avg: 12345 }, { avg: 1 }] }, "cumPwr")).toEqual({ cumPwr: 12.345 });
    expect(call(UPSTREAM, { values: [{ avg: "2500" }] }, "x")).toEqual({ x: 2.5 });
  });

  test("several lines: assignments, if/elif/else, item assignment, augmented assignment, unpacking", () => {
    const src = [
      "def process_data(data, key):",
      '    """Scale the newest reading; docstrings are fine."""',
      "    v = data.get('v', 0)  # a comment",
      "    if v > 10:",
      "        r = {key: 'big'}",
      "    elif v > 5:",
      "        r = {key: 'mid'}",
      "    else:",
      "        r = {}",
      "        r[key] = v",
      "    r['n'] = len(data)",
      "    r['n'] += 1",
      "    lo, hi = min(v, 3), max(v, 3)",
      "    r['range'] = [lo, hi]",
      "    return r",
    ].join("\n");
    expect(call(src, { v: 1 })).toEqual({ k: 1, n: 2, range: [1, 3] });
    expect(call(src, { v: 7 })).toEqual({ k: "mid", n: 2, range: [3, 7] });
    expect(call(src, { v: 20 })).toEqual({ k: "big", n: 2, range: [3, 20] });
  });

  test("inline bodies, semicolons, blank lines, CRLF, tabs, a bracket over several lines", () => {
    expect(call("def process_data(d, k): x = d['a']; return {k: x * 2}", { a: 4 })).toEqual({ k: 8 });
    expect(call("def process_data(d, k):\r\n\r\n\tif d: return {k: 1}\r\n\treturn {}\r\n", {})).toEqual({});
    expect(call("def process_data(d, k):\n    return {\n        k: d['a'],\n        'b': [1,\n              2],\n    }", { a: "x" })).toEqual({ k: "x", b: [1, 2] });
    expect(call("def process_data(d, k):\n    x = 1 + \\\n        2\n    return {k: x}", {})).toEqual({ k: 3 });
  });

  test("brackets and colons inside strings, a docstring over several lines, item keys with brackets", () => {
    const src = 'def process_data(d, k):\n    """Doc: [ over\n    two lines ]"""\n    r = {"a:b": d["x]"]}\n    r["]["] = (1, 2)[d["i"]]\n    r[k] = [r["a:b"]][0]\n    return r';
    expect(call(src, { "x]": "v", i: 1 })).toEqual({ "a:b": "v", "][": 2, k: "v" });
  });

  test("floats stay floats inside, ints from JSON are ints, nested dicts and lists come back as JSON", () => {
    expect(call("def process_data(d, k): return {k: d['a'] / 2, 'i': d['a'] // 2, 's': str(d['f'])}", { a: 5, f: 2.5 })).toEqual({ k: 2.5, i: 2, s: "2.5" });
    expect(call("def process_data(d, k): return {'x': {'y': [d, None, True]}}", { q: 1 })).toEqual({ x: { y: [{ q: 1 }, null, true] } });
  });

  test("the caller's data is not changed by item assignment", () => {
    const data = { a: { b: 1 } };
    expect(call("def process_data(d, k):\n  d['a']['b'] = 2\n  return d['a']", data)).toEqual({ b: 2 });
    expect(data).toEqual({ a: { b: 1 } });
  });

  test("compiled once, called many times, no state kept between calls", () => {
    const f = compileFunction("def process_data(d, k):\n  if d > 1:\n    x = d\n  return {k: x}", OPTS);
    expect(f.call(2, "a")).toEqual({ a: 2 });
    expect(() => f.call(0, "a")).toThrow(/NameError/); // x was bound in the previous call only
    expect(f.params).toEqual(["d", "k"]);
  });
});

describe("errors at run time", () => {
  test.each([
    ["KeyError", UPSTREAM, { other: 1 }, /KeyError: values/],
    ["IndexError", UPSTREAM, { values: [] }, /IndexError/],
    ["ValueError", UPSTREAM, { values: [{ avg: "n/a" }] }, /ValueError/],
    ["not a dict", "def process_data(d, k): return [k]", {}, /must return a dict, not list/],
    ["no return", "def process_data(d, k):\n  x = 1", {}, /must return a dict, not NoneType \(does every path end in return/],
    ["non-string key", "def process_data(d, k): return {1: 2}", {}, /dict keys must be str here, not int/],
    ["a cycle", "def process_data(d, k):\n  r = {}\n  r['me'] = [r]\n  return r", {}, /container inside itself/],
    ["unbound augmented", "def process_data(d, k):\n  if d: x = 1\n  x += 1\n  return {}", 0, /NameError: local variable 'x'/],
    ["tuple item", "def process_data(d, k):\n  t = (1, 2)\n  t[0] = 3\n  return {}", 0, /does not support item assignment/],
    ["unpack count", "def process_data(d, k):\n  a, b = [1]\n  return {}", 0, /cannot unpack 1 values into 2 names/],
    ["too much work", "def process_data(d, k):\n  x = 'a' * 900000\n  y = [c for c in x]\n  z = [c for c in x]\n  return {}", 0, /LimitError/],
  ])("%s", (_what, src, data, message) => {
    const f = compileFunction(src, OPTS);
    let err: unknown;
    try {
      f.call(data, "k");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExpressionRuntimeError);
    expect(String(err)).toMatch(message);
  });
});

describe("refused when compiling, with the offset", () => {
  const at = (src: string, needle: string) => src.indexOf(needle);
  test.each([
    ["def foo(data, key): return {}", "foo", /must be named process_data/],
    ["def process_data(data): return {}", "(data)", /must take 2 parameters \(data, key\), not 1/],
    ["def process_data(data, key=1): return {}", "key=1", /parameter "key=1" is not supported/],
    ["def process_data(data, key): return {key: y}", "y}", /unknown name "y"; the variables here are data, key/],
    ["def process_data(data, key):\n  for x in data: pass", "for", /"for" statements are not supported; use a comprehension/],
    ["def process_data(data, key):\n  while 1: pass", "while", /"while" statements are not supported/],
    ["def process_data(data, key):\n  import os", "import", /"import" statements are not supported/],
    ["import os\ndef process_data(data, key): return {}", "import", /imports are not supported/],
    ["def process_data(data, key):\n  x = 1\n    y = 2\n  return {}", "y = 2", /unexpected indent/],
    ["def process_data(data, key):\n    if data:\n        x = 1\n      y = 2\n    return {}", "y = 2", /unindent does not match/],
    ["def process_data(data, key):\n  if data:\n  return {}", "return", /expected an indented block after "if"/],
    ["def process_data(data, key):\n  else:\n    pass", "else", /"else" without a matching "if"/],
    ["def process_data(data, key):", "", /expected an indented block after "def"/],
    ["def process_data(data, key): return {key, 1}", "{key, 1}", /set literals are not supported/],
    ["def process_data(data, key): return {k: v for k, v in data.items()}", "for", /dict comprehensions are not supported/],
    ["def process_data(data, key): return {**data}", "**", /dict unpacking/],
    ["def process_data(data, key): return {key: (1}", "}", /"}" does not match "\("/],
    ["def process_data(data, key): return {key: 1", "{", /bracket is not closed/],
    ["def process_data(data, key): return {key: 'x}", "'x}", /string is not closed/],
    ["def process_data(data, key):\n  x = 1\nx = 2", "x = 2", /only the function process_data may be defined here/],
    ["def process_data(data, key):\n  a = b = 1\n  return {}", "= 1", /chained assignment/],
    ["def process_data(data, key):\n  data.x = 1\n  return {}", "data.x", /cannot assign to "data.x"/],
    ["def process_data(data, key):\n  __x = 1\n  return {}", "__x", /names starting with "__"/],
    ["def process_data(data, key): return data.__class__", "__class__", /names starting with "_" are not accessible/],
    ["def process_data(data, key):\n  def inner(): pass", "def inner", /nested functions/],
    ["", "", /the function is empty/],
  ])("%p", (src, needle, message) => {
    const p = checkFunction(src, OPTS);
    expect(p).toBeDefined();
    expect(p!.message).toMatch(message);
    expect(p!.offset).toBe(needle === "" ? p!.offset : at(src, needle));
    expect(() => compileFunction(src, OPTS)).toThrow(ExpressionSyntaxError);
  });

  test("what compiles is reported as fine", () => {
    expect(checkFunction(UPSTREAM, OPTS)).toBeUndefined();
  });
});

describe("fuzz: mutated functions", () => {
  const SEEDS = [
    UPSTREAM,
    "def process_data(data, key):\n    v = data['a']\n    if v > 1:\n        return {key: v}\n    elif v:\n        r = {}\n        r[key] = -v\n        return r\n    else:\n        return {}",
    "def process_data(d, k): x, y = d['p']; return {k: x * y, 'n': [i for i in d['p'] if i]}",
  ];
  const PIECES = ["\n", "    ", ":", "=", "[", "]", "{", "}", "(", ")", "'", '"', "#", ";", ",", "if ", "else", "elif x:", "return ", "for ", "\\", "__proto__", "constructor", "data", "key", "+=", "**"];
  const EXPRS = ["data['a']", "data.get('p', [])", "x", "r", "key", "1", "-2.5", "'s'", "len(data)", "{key: x}", "[x, 1]", "data['values'][0]['avg']", "x * 2 + 1", "str(x) + key", "r.get(key, 0)", "data['p'][x]", "x / 0", "None", "(1, 2)"];
  const CONDS = ["x > 1", "data['a'] == 2", "key in r", "not r", "x", "data.get('zz') is None", "len(r) < 3"];
  /** A valid function from a small grammar of the supported statements (it may still fail when run). */
  function generated(r: () => number): string {
    const pick = <T,>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
    const block = (indent: string, depth: number): string[] => {
      const out: string[] = [];
      for (let n = 1 + Math.floor(r() * 3); n > 0; n--) {
        const k = Math.floor(r() * (depth > 2 ? 6 : 8));
        if (k === 0) out.push(`${indent}x = ${pick(EXPRS)}`);
        else if (k === 1) out.push(`${indent}r[${pick(["key", "'n'", "str(x)"])}] = ${pick(EXPRS)}`);
        else if (k === 2) out.push(`${indent}x ${pick(["+=", "-=", "*=", "//="])} ${pick(["1", "2", "x", "0"])}`);
        else if (k === 3) out.push(`${indent}a, b = ${pick(EXPRS)}, ${pick(EXPRS)}`);
        else if (k === 4) out.push(`${indent}${pick(["pass", "'doc'", "len(r)"])}`);
        else if (k === 5) out.push(`${indent}return ${pick(["r", "{key: x}", "{}", "x", "{'a': a}"])}`);
        else {
          out.push(`${indent}if ${pick(CONDS)}:`, ...block(indent + "    ", depth + 1));
          if (r() < 0.5) out.push(`${indent}elif ${pick(CONDS)}:`, ...block(indent + "    ", depth + 1));
          if (r() < 0.5) out.push(`${indent}else:`, ...block(indent + "    ", depth + 1));
        }
      }
      return out;
    };
    return ["def process_data(data, key):", "    r = {}", "    x = 0", ...block("    ", 0), "    return r"].join("\n");
  }

  test("3,000 seeded functions, generated and mutated: only the evaluator's errors, plain JSON out", () => {
    const r = seededRandom(0x5eb);
    const failures: string[] = [];
    let compiled = 0;
    let called = 0;
    for (let n = 0; n < 3000; n++) {
      let s = n % 2 === 0 ? generated(r) : SEEDS[n % SEEDS.length]!;
      for (let e = n % 4 === 0 ? 0 : 1 + Math.floor(r() * 3); e > 0; e--) {
        const at = Math.floor(r() * (s.length + 1));
        s = r() < 0.4 ? s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 3)) : s.slice(0, at) + PIECES[Math.floor(r() * PIECES.length)]! + s.slice(at);
      }
      let f;
      try {
        f = compileFunction(s, OPTS);
        compiled++;
      } catch (e) {
        if (!(e instanceof ExpressionSyntaxError)) failures.push(`compile ${JSON.stringify(s)}: ${String(e)}`);
        else if (e.offset < 0 || e.offset > s.length) failures.push(`offset ${e.offset} outside ${JSON.stringify(s)}`);
        continue;
      }
      try {
        const v = f.call({ a: 2, p: [3, 4], values: [{ avg: 5 }] }, "k");
        called++;
        if (JSON.stringify(JSON.parse(JSON.stringify(v))) !== JSON.stringify(v) || Object.getPrototypeOf(v) !== Object.prototype) failures.push(`not plain JSON from ${JSON.stringify(s)}`);
      } catch (e) {
        if (!(e instanceof ExpressionError)) failures.push(`call ${JSON.stringify(s)}: ${String(e)}`);
      }
    }
    console.log(`function fuzz: ${compiled} of 3000 compiled, ${called} called without error`);
    expect(failures).toEqual([]);
    expect(compiled).toBeGreaterThan(700);
    expect(called).toBeGreaterThan(400);
  });
});
