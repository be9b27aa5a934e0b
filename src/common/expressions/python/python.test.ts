// Semantics of the safe Python-expression evaluator: a table of expression → value (every
// expression in the upstream sample configs among them), syntax errors and unsupported constructs
// with their offsets, runtime errors, and the bounds on work and size.

import { describe, expect, test } from "bun:test";
import { checkExpression, compileExpression, ExpressionRuntimeError, ExpressionSyntaxError } from "./index.ts";

const ev = (src: string, scope: Record<string, unknown> = {}) => compileExpression(src).evaluate(scope);

describe("upstream sample expressions", () => {
  // can.json: expression / dataExpression; odbc.json: device name and a timeseries value.
  const table: Array<[string, Record<string, unknown>, unknown]> = [
    ["bool(value & 0b00000100)", { value: 0x0c }, true],
    ["bool(value & 0b00000100)", { value: 0x0b }, false],
    ["value / 4", { value: 10 }, 2.5],
    ["value / 4", { value: 8 }, 2],
    ["value * 10", { value: 3 }, 30],
    ["value + 5", { value: 37 }, 42],
    ["userSpeed if maxAllowedSpeed > userSpeed else maxAllowedSpeed", { userSpeed: 50, maxAllowedSpeed: 40 }, 40],
    ["userSpeed if maxAllowedSpeed > userSpeed else maxAllowedSpeed", { userSpeed: 30, maxAllowedSpeed: 40 }, 30],
    ["'ODBC ' + entity_id", { entity_id: "1e7a9b" }, "ODBC 1e7a9b"],
    ["[i for i in [str_v, long_v, dbl_v,bool_v] if i is not None][0]", { str_v: null, long_v: null, dbl_v: 21.5, bool_v: null }, 21.5],
    ["[i for i in [str_v, long_v, dbl_v,bool_v] if i is not None][0]", { str_v: "on", long_v: null, dbl_v: null, bool_v: null }, "on"],
    ["[i for i in [str_v, long_v, dbl_v,bool_v] if i is not None][0]", { str_v: null, long_v: null, dbl_v: null, bool_v: false }, false],
  ];
  test.each(table)("%p with %j", (src, scope, want) => expect(ev(src, scope)).toEqual(want));
  test("the ODBC comprehension with every column None is an IndexError", () => {
    expect(() => ev("[i for i in [str_v, long_v, dbl_v,bool_v] if i is not None][0]", { str_v: null, long_v: null, dbl_v: null, bool_v: null })).toThrow(
      "IndexError: list index out of range",
    );
  });
});

describe("Python semantics", () => {
  const table: Array<[string, unknown]> = [
    // arithmetic: true division, floor division and modulo with the divisor's sign, powers
    ["7 / 2", 3.5], ["-7 // 2", -4], ["7 // -2", -4], ["-7 % 3", 2], ["7 % -3", -2], ["7.5 // 2", 3], ["-7.5 % 2", 0.5],
    ["2 ** 10", 1024], ["2 ** -1", 0.5], ["-2 ** 2", -4], ["(-2) ** 2", 4], ["2 ** 3 ** 2", 512], ["2 ** 64", 18446744073709551616n],
    ["1 + 2 * 3 - 4", 3], ["(1 + 2) * 3", 9], ["10 - 2 - 3", 5], ["+5", 5], ["-(-5)", 5], ["True + True", 2], ["1 + 0.5", 1.5],
    // bitwise
    ["6 & 3", 2], ["6 | 3", 7], ["6 ^ 3", 5], ["~5", -6], ["1 << 40", 1099511627776], ["-16 >> 2", -4], ["True & False", false], ["0xff & 0x0f", 15],
    // literals
    ["0x1F", 31], ["0o17", 15], ["0b101", 5], ["1_000", 1000], ["1.5e3", 1500], [".5", 0.5], ["5.", 5], ["'a' \"b\"", "ab"],
    ["'tab\\tnew\\nline'", "tab\tnew\nline"], ["'\\x41\\u00e9\\101'", "Aé" + "A"], ["r'\\n'", "\\n"], ["'''tri'ple'''", "tri'ple"], ["None", null], ["True", true],
    ["[1, 2, 3]", [1, 2, 3]], ["(1,)", [1]], ["()", []], ["1, 2", [1, 2]], ["[]", []],
    // comparison, chaining, membership, identity
    ["1 < 2 < 3", true], ["1 < 3 < 2", false], ["1 == 1.0", true], ["'a' < 'b'", true], ["[1, 2] < [1, 3]", true], ["1 != 2", true],
    ["2 >= 2", true], ["'x' in 'xyz'", true], ["3 not in [1, 2]", true], ["None is None", true], ["0 is not None", true], ["'1' == 1", false],
    // boolean logic returns operands
    ["0 or 'x'", "x"], ["'' and 1", ""], ["1 and 2", 2], ["None or 0", 0], ["not 0", true], ["not 'a'", false], ["1 if 0 else 2", 2],
    ["'a' if [] else 'b' if [0] else 'c'", "b"],
    // indexing and slices
    ["'hello'[1]", "e"], ["'hello'[-1]", "o"], ["'hello'[1:3]", "el"], ["'hello'[::-1]", "olleh"], ["'hello'[::2]", "hlo"], ["'hello'[-3:]", "llo"],
    ["'hello'[10:]", ""], ["[1, 2, 3, 4][1:-1]", [2, 3]], ["(1, 2, 3)[0]", 1], ["[1, 2, 3][::-2]", [3, 1]],
    // comprehensions
    ["[x * x for x in range(5) if x % 2 == 0]", [0, 4, 16]], ["[a + b for a in 'ab' for b in 'xy']", ["ax", "ay", "bx", "by"]],
    ["[k for k, v in [(1, 2), (3, 4)] if v > 2]", [3]], ["sum(x for x in [1, 2, 3])", 6], ["[x for x in [1, 2] for x in [x, x]]", [1, 1, 2, 2]],
    // strings
    ["'ab' + 'cd'", "abcd"], ["'ab' * 3", "ababab"], ["3 * [0]", [0, 0, 0]], ["[1] + [2]", [1, 2]], ["'  x '.strip()", "x"], ["'xxaxx'.lstrip('x')", "axx"],
    ["'a,b,,c'.split(',')", ["a", "b", "", "c"]], ["' a  b '.split()", ["a", "b"]], ["'a b c'.split(' ', 1)", ["a", "b c"]], ["'-'.join(['a', 'b'])", "a-b"],
    ["'aaa'.replace('a', 'b', 2)", "bba"], ["'Hi'.upper()", "HI"], ["'Hi'.lower()", "hi"], ["'abc'.startswith(('x', 'a'))", true], ["'abc'.endswith('bc')", true],
    ["'abcabc'.find('c')", 2], ["'abc'.find('z')", -1], ["'abcabc'.rfind('c')", 5], ["'abcabc'.count('bc')", 2], ["'7'.zfill(3)", "007"], ["'-7'.zfill(4)", "-007"],
    ["'42'.isdigit()", true], ["'hello world'.title()", "Hello World"], ["'x'.rjust(3, '.')", "..x"],
    ["'{} {}'.format(1, 'a')", "1 a"], ["'{1}{0}'.format('a', 'b')", "ba"], ["'{name}!'.format(name='x')", "x!"], ["'{:.2f}'.format(3.14159)", "3.14"],
    ["'{:05d}'.format(42)", "00042"], ["'{:x}'.format(255)", "ff"], ["'{:#06X}'.format(255)", "0X00FF"], ["'{:>5}|{:<3}|{:^5}'.format('a', 'b', 'c')", "    a|b  |  c  "],
    ["'{:,}'.format(1234567)", "1,234,567"], ["'{:+.1e}'.format(12345.678)", "+1.2e+04"], ["'{:.1%}'.format(0.256)", "25.6%"], ["'{:g}'.format(0.00001)", "1e-05"],
    ["'{{}}{!r}'.format('q')", "{}'q'"],
    // builtins
    ["str(1.0)", "1.0"], ["str(1e20)", "1e+20"], ["str(1e16)", "1e+16"], ["str(123456789.5)", "123456789.5"], ["str(0.0001)", "0.0001"], ["str(1e-5)", "1e-05"],
    ["str(True)", "True"], ["str(None)", "None"], ["str([1, 'a', None])", "[1, 'a', None]"], ["str((1,))", "(1,)"], ["repr('it\\'s')", "\"it's\""],
    ["int('42')", 42], ["int(' -7 ')", -7], ["int(3.9)", 3], ["int(-3.9)", -3], ["int('ff', 16)", 255], ["int('0x1f', 0)", 31], ["int('z', 36)", 35], ["int(True)", 1],
    ["float('1.5')", 1.5], ["float(' 1e3 ')", 1000], ["float('-inf') < 0", true], ["float(2)", 2], ["bool('')", false], ["bool([0])", true],
    ["len('héllo')", 5], ["len([1, 2])", 2], ["abs(-3)", 3], ["abs(-2.5)", 2.5], ["round(2.5)", 2], ["round(3.5)", 4], ["round(-2.5)", -2], ["round(2.675, 2)", 2.67],
    ["round(0.125, 2)", 0.12], ["round(1250, -2)", 1200], ["min(3, 1, 2)", 1], ["max([3, 1, 2])", 3], ["max([], default=0)", 0], ["sum([1, 2.5])", 3.5],
    ["sum([1, 2], 10)", 13], ["hex(255)", "0xff"], ["hex(-1)", "-0x1"], ["bin(5)", "0b101"], ["oct(8)", "0o10"], ["chr(65)", "A"], ["ord('A')", 65],
    ["any([0, 1])", true], ["all([])", true], ["sorted([3, 1, 2])", [1, 2, 3]], ["sorted('bca', reverse=True)", ["c", "b", "a"]], ["list('ab')", ["a", "b"]],
    ["tuple([1])", [1]], ["reversed([1, 2])", [2, 1]], ["range(2, 10, 3)", [2, 5, 8]], ["divmod(-7, 2)", [-4, 1]], ["pow(2, 8)", 256], ["format(3.14159, '.3f')", "3.142"],
  ];
  test.each(table)("%s", (src, want) => expect(ev(src)).toEqual(want));

  test("variables: numbers, strings, lists, bytes, dicts", () => {
    expect(ev("can_data[0] << 8 | can_data[1]", { can_data: [0x12, 0x34] })).toBe(0x1234);
    expect(ev("data[-1]", { data: new Uint8Array([1, 2, 250]) })).toBe(250);
    expect(ev("d['a'] + d.get('b', 10) + len(d.keys())", { d: { a: 1 } })).toBe(12);
    expect(ev("[k + '=' + str(v) for k, v in d.items()]", { d: { x: 1, y: 2.5 } })).toEqual(["x=1", "y=2.5"]);
    expect(ev("value", { value: 2 ** 60 })).toBe(2n ** 60n); // an int beyond 2^53 comes back as bigint
    expect(ev("value * 2", { value: 2n ** 62n })).toBe(2n ** 63n);
    expect(ev("str_v is None", new Map([["str_v", null]]) as never)).toBe(true);
    expect(ev("x", { x: undefined })).toBe(null);
  });

  test("a variable named like a built-in shadows it, as Python's globals do", () => {
    expect(ev("str + 1", { str: 1 })).toBe(2);
  });

  test("compiled once, evaluated many times", () => {
    const e = compileExpression("value * 2");
    expect([1, 2, 3].map((value) => e.evaluate({ value }))).toEqual([2, 4, 6]);
    expect(compileExpression("a + b * len(c)").names).toEqual(["a", "b", "c"]);
    expect(compileExpression("[x for x in y]").names).toEqual(["y"]);
  });
});

describe("errors", () => {
  const syntax: Array<[string, number, RegExp]> = [
    ["1 +", 3, /ends too early/],
    ["(1", 2, /expected "\)"/],
    ["1 2", 2, /unexpected "2"/],
    ["value +* 2", 7, /unexpected "\*"/],
    ["'abc", 0, /string is not closed/],
    ["a $ b", 2, /unexpected character "\$"/],
    ["${value} + 1", 0, /a \$\{\.\.\.\} template/],
    ["007", 0, /leading zeros/],
    ["1j", 0, /complex numbers/],
    ["", 0, /empty/],
    ["lambda x: x", 0, /lambda functions are not supported/],
    ["import os", 0, /imports are not supported/],
    ["__import__('os')", 0, /names starting with "__"/],
    ["().__class__", 3, /names starting with "_"/],
    ["value.__class__", 6, /names starting with "_"/],
    ["'x'.encode()", 4, /"\.encode" is not supported/],
    ["value.real", 6, /"\.real" is not supported/],
    ["'x'.upper", 4, /attribute access is not supported/],
    ["x = 1", 2, /assignment \("="\) is not supported/],
    ["(y := 2)", 3, /assignment \(":="\)/],
    ["x += 1", 2, /assignment \("\+="\)/],
    ["f'{x}'", 0, /f-strings are not supported/],
    ["b'x'", 0, /bytes literals/],
    ["{'a': 1}", 0, /dict and set literals/],
    ["a; b", 1, /only one expression/],
    ["f(*x)", 2, /unpacking/],
    ["[*x]", 1, /unpacking/],
    ["a @ b", 2, /matrix operator/],
    ["yield 1", 0, /"yield" is not supported/],
    ["await x", 0, /"await" is not supported/],
    ["(" .repeat(200) + "1" + ")".repeat(200), 100, /nested too deeply/],
    ["1" + "+1".repeat(150), 0, /nested too deeply/],
    ["x".repeat(10_001), 10_000, /longer than 10000/],
  ];
  test.each(syntax)("%p is refused at offset %p", (src, offset, message) => {
    const p = checkExpression(src);
    expect(p).toBeDefined();
    expect(p!.message).toMatch(message);
    expect(p!.offset).toBe(offset);
    expect(() => compileExpression(src)).toThrow(ExpressionSyntaxError);
  });

  test("the error message names the offset", () => {
    expect(() => compileExpression("value +* 2")).toThrow('unexpected "*" at offset 7');
  });

  test("with a list of variables, any other name is refused at compile time", () => {
    expect(checkExpression("value / 10 - offset", { variables: ["value"] })).toEqual({ offset: 13, length: 6, message: 'unknown name "offset"; the variables here are value' });
    expect(checkExpression("[v for v in range(value)]", { variables: ["value"] })).toBeUndefined();
    expect(checkExpression("str(value)", { variables: ["value"] })).toBeUndefined();
  });

  const runtime: Array<[string, RegExp]> = [
    ["missing + 1", /^NameError: name 'missing' is not defined$/],
    ["1 / 0", /^ZeroDivisionError: division by zero$/],
    ["1 // 0", /ZeroDivisionError/],
    ["1.5 % 0", /ZeroDivisionError/],
    ["'a' + 1", /TypeError: can only concatenate str \(not "int"\) to str/],
    ["1 + 'a'", /TypeError: unsupported operand type\(s\) for \+: 'int' and 'str'/],
    ["None < 1", /TypeError: '<' not supported between instances of 'NoneType' and 'int'/],
    ["[1][5]", /IndexError: list index out of range/],
    ["d['b']", /KeyError/],
    ["int('x')", /ValueError: invalid literal for int\(\) with base 10: 'x'/],
    ["float('abc')", /ValueError: could not convert string to float/],
    ["'%d' % 3", /printf-style formatting/],
    ["len(5)", /TypeError: object of type 'int' has no len\(\)/],
    ["5()", /TypeError: 'int' object is not callable/],
    ["(1).upper()", /TypeError: 'int' object has no method 'upper'/],
    ["'{0.x}'.format(1)", /not supported \(only \{\}, \{0\} and \{name\}\)/],
    ["(-8) ** 0.5", /ValueError: .*complex/],
    ["1 << -1", /ValueError: negative shift count/],
    ["min([])", /ValueError: min\(\) arg is an empty sequence/],
    ["str(1, 2)", /TypeError: str\(\) takes 0 to 1 argument \(2 given\)/],
    ["round(1, x=2)", /unexpected keyword argument 'x'/],
    ["[a for a, b in [1]]", /TypeError: 'int' object is not iterable/],
  ];
  test.each(runtime)("%p fails with %p", (src, message) => {
    let err: unknown;
    try {
      compileExpression(src).evaluate({ d: { a: 1 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExpressionRuntimeError);
    expect((err as Error).message).toMatch(message);
  });
});

describe("exactNumbers: int and float kept apart across the boundary", () => {
  const exact = (src: string, scope: Record<string, unknown> = {}) => compileExpression(src, { exactNumbers: true }).evaluate(scope);

  test("int results are bigint, float results numbers, even when integral", () => {
    expect(exact("value / 4", { value: 4000n })).toBe(1000); // Python: 1000.0
    expect(exact("value // 4", { value: 4000n })).toBe(1000n);
    expect(exact("value + 5", { value: 37n })).toBe(42n);
    expect(exact("[1, 2.0, (3,)]")).toEqual([1n, 2, [3n]]);
    expect(exact("True")).toBe(true);
  });

  test("a number variable is a float, a bigint an int, nested too", () => {
    expect(exact("str(value)", { value: 25 })).toBe("25.0");
    expect(exact("str(value)", { value: 25n })).toBe("25");
    expect(exact("value // 2", { value: 5 })).toBe(2);
    expect(exact("d['a'] * 2", { d: { a: 3n } })).toBe(6n);
    expect(exact("sum(can_data)", { can_data: Uint8Array.of(1, 2) })).toBe(3n);
  });

  test("the default is unchanged: integral numbers are ints, ints come back as numbers", () => {
    expect(ev("str(value)", { value: 25 })).toBe("25");
    expect(ev("value // 4", { value: 4000 })).toBe(1000);
  });
});

describe("bounds", () => {
  const limited: string[] = [
    "'a' * 10 ** 9",
    "[0] * 10 ** 7",
    "'ab' * 600000",
    "2 ** 100000",
    "1 << 10 ** 6",
    "10 ** 2000 * 10 ** 2000",
    "[x for x in range(10 ** 6) for y in range(10 ** 6)]",
    "range(10 ** 12)",
    "len(str([[0] * 1000] * 1000))",
    "sum([len('x' * 900000) for i in range(10)])",
    "'{:>2000000}'.format(1)",
    "'x'.zfill(10 ** 7)",
  ];
  test.each(limited)("%p stops at a limit", (src) => {
    const t = performance.now();
    expect(() => ev(src)).toThrow(/LimitError|OverflowError/);
    expect(performance.now() - t).toBeLessThan(5000);
  });

  test("a variable nested too deeply is refused", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => ev("x", { x: deep })).toThrow(/LimitError/);
  });

  test("variables of unsupported types are refused, never exposed", () => {
    expect(() => ev("f", { f: () => 1 })).toThrow(/unsupported type \(function\)/);
    expect(() => ev("d", { d: new Date() })).toThrow(/unsupported type \(object\)/);
    expect(() => ev("s", { s: Symbol("x") })).toThrow(/unsupported type/);
  });
});
