// The one safe `${...}` evaluator shared by all connectors (spec/converters.md §3), Python-style byte slices, and the
// safe Python-expression evaluator (python/, spec/converters.md §5). No eval.
export { compileTag, lookupTag, type CompiledTag } from "./path.ts";
export {
  compileTemplate,
  renderTemplate,
  render,
  templateTags,
  SKIP,
  NONE_SKIPS,
  NULL_IN_TEXT,
  KEEP_EXPRESSION,
  EXPRESSION_INSTEAD_OF_NONE,
  type Template,
  type ExpressionPolicy,
  type Rendered,
} from "./template.ts";
export { convertType, textOf, toBool, toFloat, type TypeHint } from "./types.ts";
export { messageTimestamp, parseTimestamp, parseDateText, type TsOptions } from "./timestamp.ts";
export { fillPlaceholders, plainText, jsonText, attributeText, parseReservedParams, type Encode } from "./downlink.ts";
export { compileSlices, renderSlices, sliceBytes, type Slices } from "./slices.ts";
export {
  compileExpression,
  checkExpression,
  ExpressionError,
  ExpressionSyntaxError,
  ExpressionRuntimeError,
  type Expression,
  type ExpressionProblem,
  type Scope,
} from "./python/index.ts";
