// Safe evaluator for the Python expressions upstream configs carry (BLE `compute`, MQTT `useEval`,
// CAN `expression`/`dataExpression`, ODBC `value`/`name`). Compile once, evaluate many times; no
// eval, no Function, no reach beyond the variables given. The supported subset: README.md.

import { compile, type CompileOptions } from "./compile.ts";
import { ExpressionError, ExpressionRuntimeError, ExpressionSyntaxError } from "./errors.ts";
import { parse } from "./parser.ts";
import { type Ctx, toJs } from "./values.ts";

export { ExpressionError, ExpressionRuntimeError, ExpressionSyntaxError, type CompileOptions };
export { LIMITS } from "./values.ts";
export { MAX_DEPTH, MAX_SOURCE } from "./parser.ts";
export { checkFunction, compileFunction, MAX_FUNCTION_SOURCE, type FunctionOptions, type PythonFunction } from "./function.ts";

export type Scope = Readonly<Record<string, unknown>> | ReadonlyMap<string, unknown>;

export interface Expression {
  readonly source: string;
  /** The variables the expression reads (names that are not built-ins or loop variables). */
  readonly names: readonly string[];
  /**
   * Evaluate with `scope` as the variables (own keys only). Numbers that are integers become Python
   * ints, other numbers floats; arrays and Uint8Arrays lists; plain objects dicts. The result comes
   * back as plain JS: int → number (bigint beyond ±2^53), float → number, tuple → array,
   * dict → object, None → null. With `exactNumbers`: bigint ↔ int and number ↔ float instead.
   * Throws ExpressionRuntimeError.
   */
  evaluate(scope?: Scope): unknown;
}

/** Parse and compile; throws ExpressionSyntaxError (with offset) for bad syntax or an unsupported construct. */
export function compileExpression(source: string, opts: CompileOptions = {}): Expression {
  const { root, slots, names } = compile(parse(source, { dicts: opts.dicts }), opts);
  const exact = opts.exactNumbers === true;
  return {
    source,
    names,
    evaluate(scope: Scope = {}): unknown {
      const ctx: Ctx = { scope: scope as Ctx["scope"], slots: new Array(slots).fill(null), work: 0, exact };
      try {
        return toJs(root(ctx), exact);
      } catch (e) {
        // The engine's own limits (stack, string length) end as the evaluator's limit error.
        if (e instanceof RangeError) throw new ExpressionRuntimeError("LimitError", `the expression exceeds an engine limit (${e.message})`);
        throw e;
      }
    },
  };
}

export interface ExpressionProblem {
  /** Offset (UTF-16 code units) of the problem in the expression text. */
  offset: number;
  length: number;
  /** What is wrong, without the position. */
  message: string;
}

/** For `validate`: the first syntax problem or unsupported construct, or undefined when the expression compiles. */
export function checkExpression(source: string, opts: CompileOptions = {}): ExpressionProblem | undefined {
  try {
    compileExpression(source, opts);
    return undefined;
  } catch (e) {
    if (e instanceof ExpressionSyntaxError) return { offset: e.offset, length: e.length, message: e.reason };
    if (e instanceof ExpressionError) return { offset: 0, length: Math.max(1, source.length), message: e.message };
    throw e;
  }
}
