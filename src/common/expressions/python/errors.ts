// The evaluator's own errors. Every failure of parsing or evaluating an expression is one of these;
// anything else escaping the evaluator is a bug (the fuzz test checks that).

export class ExpressionError extends Error {
  override name = "ExpressionError";
}

/** A syntax error or an unsupported construct, found before anything runs. */
export class ExpressionSyntaxError extends ExpressionError {
  override name = "ExpressionSyntaxError";
  constructor(
    /** What is wrong, without the position. */
    readonly reason: string,
    /** Offset (UTF-16 code units) into the expression text. */
    readonly offset: number,
    /** How many characters the problem spans (at least 1). */
    readonly length: number,
  ) {
    super(`${reason} at offset ${offset}`);
  }
}

/** Python's exception names, so messages read like the Python gateway's logs. */
export type RuntimeKind = "NameError" | "TypeError" | "ValueError" | "ZeroDivisionError" | "IndexError" | "KeyError" | "OverflowError" | "LimitError";

/** A failure while evaluating: unknown name, wrong type, division by zero, a limit reached. */
export class ExpressionRuntimeError extends ExpressionError {
  override name = "ExpressionRuntimeError";
  constructor(
    readonly kind: RuntimeKind,
    readonly detail: string,
  ) {
    super(`${kind}: ${detail}`);
  }
}

export const fail = (kind: RuntimeKind, detail: string): never => {
  throw new ExpressionRuntimeError(kind, detail);
};
