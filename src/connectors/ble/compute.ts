// The `compute` option (upstream runs Python eval on it with the variable `value`): the shared safe
// Python-expression evaluator (src/common/expressions/python), with `value` as its only variable.

import { compileExpression, ExpressionSyntaxError } from "../../common/expressions/python/index.ts";
import { errorText } from "../../observe/logger.ts";

/** Compile once; the result evaluates with a given `value`. Throws on bad syntax or an unsupported construct. */
export function compileCompute(src: string): (value: number) => unknown {
  let expr;
  try {
    expr = compileExpression(src, { variables: ["value"] });
  } catch (e) {
    if (e instanceof ExpressionSyntaxError) throw new Error(`compute: ${e.reason} at offset ${e.offset} in "${src}"`);
    throw e;
  }
  return (value) => {
    try {
      return expr.evaluate({ value });
    } catch (e) {
      throw new Error(`compute "${src}" with value ${value}: ${errorText(e)}`);
    }
  };
}
