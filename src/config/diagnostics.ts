// What `tb-gw validate` and the loader report: one diagnostic per problem, each naming the file,
// line and column (1-based), printed as `file:line:col: error|warning: message` with the line and a
// caret under the place, like a compiler, so editors and CI logs can jump to it.

export type Severity = "error" | "warning";

export interface Diagnostic {
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column (UTF-16 code units, as editors count). */
  col: number;
  severity: Severity;
  message: string;
  /** JSON path of the offending value, e.g. `thingsboard.security.accessToken` (empty for the document). */
  path?: string;
  /** Text of the line, for the caret excerpt (not part of the JSON output). */
  lineText?: string;
  /** How many characters the caret underlines (at least 1). */
  length?: number;
}

/** Thrown by the loader when a config has errors; carries every diagnostic, not only the first. */
export class ConfigError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === "error");
    super(
      `configuration has ${errors.length} error${errors.length === 1 ? "" : "s"}:\n` +
        formatDiagnostics(diagnostics, { color: false }),
    );
    this.name = "ConfigError";
  }
}

export function hasErrors(diags: Diagnostic[]): boolean {
  return diags.some((d) => d.severity === "error");
}

/** Errors first within a file, then by place, so the output reads top to bottom. */
export function sortDiagnostics(diags: Diagnostic[]): Diagnostic[] {
  return [...diags].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}

const paint = (on: boolean, code: string, s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

export function formatDiagnostic(d: Diagnostic, opts: { color?: boolean } = {}): string {
  const c = !!opts.color;
  const sev = d.severity === "error" ? paint(c, "1;31", "error") : paint(c, "1;33", "warning");
  const head = `${paint(c, "1", `${d.file}:${d.line}:${d.col}`)}: ${sev}: ${d.message}`;
  if (d.lineText === undefined) return head;
  // Tabs would shift the caret; show them as single spaces in the excerpt.
  const text = d.lineText.replace(/\t/g, " ");
  const shown = text.length > 200 ? text.slice(0, 200) + "…" : text;
  const gutter = String(d.line).padStart(5) + " | ";
  const width = Math.max(1, Math.min(d.length ?? 1, Math.max(1, shown.length - (d.col - 1))));
  const caret = " ".repeat(gutter.length - 2) + "| " + " ".repeat(Math.max(0, d.col - 1)) + paint(c, "1;32", "^" + "~".repeat(width - 1));
  return `${head}\n${gutter}${shown}\n${caret}`;
}

export function formatDiagnostics(diags: Diagnostic[], opts: { color?: boolean } = {}): string {
  return sortDiagnostics(diags)
    .map((d) => formatDiagnostic(d, opts))
    .join("\n");
}

/** The machine-readable form (`--format json`): no excerpt text. */
export function diagnosticsToJson(diags: Diagnostic[]): object[] {
  return sortDiagnostics(diags).map(({ lineText: _l, length: _n, ...rest }) => rest);
}
