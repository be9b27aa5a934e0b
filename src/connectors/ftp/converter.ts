// Uplink conversion of one file, one line (or JSON value) at a time, so that a file of any size is
// converted while it downloads. Three views (spec/connectors/ftp.md "Uplink conversion"):
// - table (.csv, .txt with TABLE): the first line names the columns, `${Column}` takes a cell;
// - sliced (.txt with SLICED): `[from:to]` takes characters of the line's first field;
// - json (.json): the whole file is one JSON value (an array gives one message per item), or one
//   JSON value per line (JSON Lines), each converted with the shared `${path}` resolver.
// Values keep the configured type (upstream sends every table/sliced value as text).

import { compileSlices, convertType, messageTimestamp, parseTimestamp, renderTemplate, compileTemplate, NULL_IN_TEXT, SKIP, type Slices } from "../../common/expressions/index.ts";
import { compileNameTemplate } from "../../common/converters/json-mapping.ts";
import type { ConvertedData, ReportStrategyConfig } from "../../core/model.ts";
import type { FtpKey, FtpPath } from "./schema.ts";

export type FileView = "table" | "sliced" | "json";

/** A line the converter could not use: reported with the file and line number, the rest is read. */
export interface LineProblem {
  line: number;
  message: string;
}

export function fileView(fileName: string, txtView: FtpPath["txtFileDataView"]): FileView | undefined {
  const ext = fileName.slice(fileName.lastIndexOf(".") + 1).toLowerCase();
  if (ext === "csv") return "table";
  if (ext === "txt") return txtView === "SLICED" ? "sliced" : "table";
  if (ext === "json") return "json";
  return undefined;
}

/** `${fileName}` / `${filePath}` in device name/type patterns: the file the data came from (tb-gw addition). */
export function withFilePlaceholders(pattern: string, filePath: string): string {
  if (!pattern.includes("${file")) return pattern;
  const name = filePath.slice(filePath.lastIndexOf("/") + 1);
  return pattern.replaceAll("${fileName}", name).replaceAll("${filePath}", filePath);
}

const isTsKey = (k: string) => k === "ts" || k === "timestamp";

function typed(v: unknown, k: FtpKey, textDefault: boolean): unknown {
  if (k.type) return convertType(v, k.type);
  return textDefault && typeof v !== "string" ? String(v) : v;
}

/** What every view produces for one record before it becomes ConvertedData. */
interface Record_ {
  deviceName: string | undefined;
  deviceType: string | undefined;
  attributes: Record<string, unknown>;
  series: Record<string, unknown>;
  /** Values with their own timestamp (`tsField`). */
  stamped: Array<{ ts: number; key: string; value: unknown }>;
  ts: number | undefined;
  strategies: Record<string, ReportStrategyConfig> | undefined;
  problems: string[];
}

function finish(r: Record_, path: FtpPath): ConvertedData | string {
  if (!r.deviceName) return "no device name (devicePatternName found nothing in this record)";
  const out: ConvertedData = { deviceName: r.deviceName, deviceType: r.deviceType || "default" };
  if (Object.keys(r.attributes).length > 0) out.attributes = r.attributes;
  const telemetry = [];
  if (Object.keys(r.series).length > 0) telemetry.push(r.ts === undefined ? { values: r.series } : { ts: r.ts, values: r.series });
  for (const s of r.stamped) {
    const same = telemetry.find((t) => t.ts === s.ts);
    if (same) same.values[s.key] = s.value;
    else telemetry.push({ ts: s.ts, values: { [s.key]: s.value } });
  }
  if (telemetry.length > 0) out.telemetry = telemetry;
  if (!out.attributes && !out.telemetry) return "no attribute or time series value found";
  if (r.strategies) out.keyStrategies = r.strategies;
  if (path.reportStrategy) out.deviceStrategy = path.reportStrategy as ReportStrategyConfig;
  return out;
}

const newRecord = (): Record_ => ({ deviceName: undefined, deviceType: undefined, attributes: {}, series: {}, stamped: [], ts: undefined, strategies: undefined, problems: [] });

/** One output of a line: data, nothing (blank), or a problem to report. */
export type LineResult = ConvertedData | LineProblem | undefined;

export interface FileConverter {
  /** Convert one line (without its line end); `line` is 1-based. */
  line(text: string, line: number): LineResult[];
  /** The end of the file: a whole-file JSON document is converted here. */
  end(): LineResult[];
  /** Table view: the header line once read (kept by PARTIAL reads so later reads can resume). */
  header?: string;
}

export function isProblem(r: LineResult): r is LineProblem {
  return r !== undefined && "message" in r;
}

export function createFileConverter(path: FtpPath, filePath: string, opts: { header?: string; resumedJsonLines?: boolean; maxJsonBytes: number }): FileConverter | undefined {
  const view = fileView(filePath, path.txtFileDataView);
  const conv =
    view === "table"
      ? new TableConverter(path, filePath, opts.header)
      : view === "sliced"
        ? new SlicedConverter(path, filePath)
        : view === "json"
          ? new JsonConverter(path, filePath, opts.maxJsonBytes, opts.resumedJsonLines === true)
          : undefined;
  if (!conv) return undefined;
  // Files saved by Windows tools often start with a UTF-8 byte order mark: not part of the first line.
  const line = conv.line.bind(conv);
  conv.line = (text, n) => line(n === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, n);
  return conv;
}

// ---- table view -----------------------------------------------------------------------------

/** A template over columns: literal texts around column indexes; -1 = a column not in the header. */
interface ColumnTemplate {
  texts: string[];
  columns: number[];
}

const columnTag = /\$\{([^}]*)\}/g;

function compileColumns(source: string, header: Map<string, number>): ColumnTemplate {
  const texts: string[] = [];
  const columns: number[] = [];
  let last = 0;
  for (const m of source.matchAll(columnTag)) {
    texts.push(source.slice(last, m.index));
    columns.push(header.get(m[1]!.trim()) ?? -1);
    last = m.index + m[0].length;
  }
  texts.push(source.slice(last));
  return { texts, columns };
}

/** undefined when a column is unknown or missing in this row (the datapoint is dropped, as upstream). */
function renderColumns(t: ColumnTemplate, cells: string[]): string | undefined {
  let out = t.texts[0]!;
  for (let i = 0; i < t.columns.length; i++) {
    const c = t.columns[i]!;
    if (c < 0 || c >= cells.length) return undefined;
    out += cells[c]! + t.texts[i + 1]!;
  }
  return out;
}

interface TableKey {
  conf: FtpKey;
  key: ColumnTemplate;
  value: ColumnTemplate;
  tsField: ColumnTemplate | undefined;
}

class TableConverter implements FileConverter {
  header: string | undefined;
  private compiled: { name: ColumnTemplate; type: ColumnTemplate; attrs: TableKey[]; series: TableKey[] } | undefined;

  constructor(
    private readonly path: FtpPath,
    private readonly filePath: string,
    header: string | undefined,
  ) {
    if (header !== undefined) this.setHeader(header);
  }

  private split(text: string): string[] {
    return text.split(this.path.delimiter).map((c) => c.trim());
  }

  private setHeader(text: string): void {
    this.header = text;
    const columns = new Map<string, number>();
    this.split(text).forEach((h, i) => columns.has(h) || columns.set(h, i));
    const key = (k: FtpKey): TableKey => ({
      conf: k,
      key: compileColumns(k.key, columns),
      value: compileColumns(k.value, columns),
      tsField: k.tsField ? compileColumns(k.tsField.includes("${") ? k.tsField : "${" + k.tsField + "}", columns) : undefined,
    });
    this.compiled = {
      name: compileColumns(withFilePlaceholders(this.path.devicePatternName, this.filePath), columns),
      type: compileColumns(withFilePlaceholders(this.path.devicePatternType, this.filePath), columns),
      attrs: this.path.attributes.map(key),
      series: this.path.timeseries.map(key),
    };
  }

  line(text: string, line: number): LineResult[] {
    if (text.trim() === "") return [];
    if (!this.compiled) {
      this.setHeader(text);
      return [];
    }
    const cells = this.split(text);
    const c = this.compiled;
    const r = newRecord();
    r.deviceName = renderColumns(c.name, cells);
    r.deviceType = renderColumns(c.type, cells);
    for (const k of c.attrs) {
      const key = renderColumns(k.key, cells);
      const value = renderColumns(k.value, cells);
      if (key === undefined || value === undefined) continue;
      r.attributes[key] = typed(value, k.conf, true);
      if (k.conf.reportStrategy) (r.strategies ??= {})[key] = k.conf.reportStrategy as ReportStrategyConfig;
    }
    for (const k of c.series) {
      const key = renderColumns(k.key, cells);
      const value = renderColumns(k.value, cells);
      if (key === undefined || value === undefined) continue;
      if (isTsKey(key)) {
        r.ts = rowTs(value, r, `${key} "${value}"`);
        continue;
      }
      const v = typed(value, k.conf, true);
      if (k.conf.reportStrategy) (r.strategies ??= {})[key] = k.conf.reportStrategy as ReportStrategyConfig;
      const tsText = k.tsField ? renderColumns(k.tsField, cells) : undefined;
      const own = tsText === undefined ? undefined : rowTs(tsText, r, `tsField "${tsText}"`, k.conf);
      if (own === undefined) r.series[key] = v;
      else r.stamped.push({ ts: own, key, value: v });
    }
    return withProblems(finish(r, this.path), r, line);
  }

  end(): LineResult[] {
    return [];
  }
}

function rowTs(text: string, r: Record_, what: string, opts?: { dayfirst?: boolean; yearfirst?: boolean }): number | undefined {
  const ts = parseTimestamp(text, opts);
  if (ts === undefined) r.problems.push(`bad timestamp ${what}: sent with the gateway's time`);
  return ts;
}

/** The record, plus one problem per bad timestamp (the record is still sent). */
function withProblems(out: ConvertedData | string, r: Record_, line: number): LineResult[] {
  const results: LineResult[] = r.problems.map((message) => ({ line, message }));
  results.push(typeof out === "string" ? { line, message: out } : out);
  return results;
}

// ---- sliced view ----------------------------------------------------------------------------

interface SliceExpr {
  slices: Slices | undefined;
  literal: string;
}

function compileSliceExpr(source: string): SliceExpr {
  const s = compileSlices(source);
  return { slices: s.parts.length > 0 ? s : undefined, literal: source };
}

function sliceChars(text: string, p: Slices["parts"][number]): string {
  const n = text.length;
  if (p.single) {
    const i = p.from! < 0 ? n + p.from! : p.from!;
    return i >= 0 && i < n ? text[i]! : "";
  }
  return text.slice(p.from ?? 0, p.to ?? n);
}

function renderSliceExpr(e: SliceExpr, field: string): string {
  if (!e.slices) return e.literal;
  let out = e.slices.texts[0]!;
  for (let i = 0; i < e.slices.parts.length; i++) out += sliceChars(field, e.slices.parts[i]!) + e.slices.texts[i + 1]!;
  return out;
}

class SlicedConverter implements FileConverter {
  private readonly name: SliceExpr;
  private readonly type: SliceExpr;
  private readonly attrs: Array<{ conf: FtpKey; key: SliceExpr; value: SliceExpr }>;
  private readonly series: Array<{ conf: FtpKey; key: SliceExpr; value: SliceExpr }>;

  constructor(
    private readonly path: FtpPath,
    filePath: string,
  ) {
    this.name = compileSliceExpr(withFilePlaceholders(path.devicePatternName, filePath));
    this.type = compileSliceExpr(withFilePlaceholders(path.devicePatternType, filePath));
    const key = (k: FtpKey) => ({ conf: k, key: compileSliceExpr(k.key), value: compileSliceExpr(k.value) });
    this.attrs = path.attributes.map(key);
    this.series = path.timeseries.map(key);
  }

  line(text: string, line: number): LineResult[] {
    if (text.trim() === "") return [];
    const d = this.path.delimiter;
    const cut = text.indexOf(d);
    const field = cut < 0 ? text : text.slice(0, cut);
    const r = newRecord();
    r.deviceName = renderSliceExpr(this.name, field);
    r.deviceType = renderSliceExpr(this.type, field);
    for (const k of this.attrs) {
      const key = renderSliceExpr(k.key, field);
      r.attributes[key] = typed(renderSliceExpr(k.value, field), k.conf, true);
      if (k.conf.reportStrategy) (r.strategies ??= {})[key] = k.conf.reportStrategy as ReportStrategyConfig;
    }
    for (const k of this.series) {
      const key = renderSliceExpr(k.key, field);
      const value = renderSliceExpr(k.value, field);
      if (isTsKey(key)) {
        r.ts = rowTs(value, r, `${key} "${value}"`);
        continue;
      }
      r.series[key] = typed(value, k.conf, true);
      if (k.conf.reportStrategy) (r.strategies ??= {})[key] = k.conf.reportStrategy as ReportStrategyConfig;
    }
    return withProblems(finish(r, this.path), r, line);
  }

  end(): LineResult[] {
    return [];
  }
}

// ---- json view ------------------------------------------------------------------------------

class JsonConverter implements FileConverter {
  private readonly name: (body: unknown) => string | undefined;
  private readonly type: (body: unknown) => string | undefined;
  private readonly attrs: Array<{ conf: FtpKey; key: ReturnType<typeof compileTemplate>; value: ReturnType<typeof compileTemplate> }>;
  private readonly series: Array<{ conf: FtpKey; key: ReturnType<typeof compileTemplate>; value: ReturnType<typeof compileTemplate> }>;
  /** Whole-document mode: the lines so far (a document that is not one value per line). */
  private doc: string[] | undefined;
  private docBytes = 0;
  private docStart = 0;

  constructor(
    private readonly path: FtpPath,
    filePath: string,
    private readonly maxDocBytes: number,
    private jsonLines: boolean,
  ) {
    this.name = compileNameTemplate(withFilePlaceholders(path.devicePatternName, filePath));
    const typeOf = compileNameTemplate(withFilePlaceholders(path.devicePatternType, filePath));
    this.type = (b) => typeOf(b) ?? path.devicePatternType;
    const key = (k: FtpKey) => ({ conf: k, key: compileTemplate(k.key), value: compileTemplate(k.value) });
    this.attrs = path.attributes.map(key);
    this.series = path.timeseries.map(key);
  }

  /**
   * The first non-blank line decides: a JSON object alone on it means JSON Lines, converted line
   * by line (a bad line is reported, the rest read); anything else is one document, gathered (up
   * to maxFileSize) and parsed at the end.
   */
  line(text: string, line: number): LineResult[] {
    if (this.doc) return this.gather(text);
    const t = text.trim();
    if (t === "") return [];
    let value: unknown;
    try {
      value = JSON.parse(t);
    } catch (e) {
      if (!this.jsonLines) {
        this.doc = [];
        this.docStart = line;
        return this.gather(text);
      }
      return [{ line, message: `not valid JSON: ${(e as Error).message}` }];
    }
    if (!this.jsonLines && (value === null || typeof value !== "object" || Array.isArray(value))) {
      this.doc = [];
      this.docStart = line;
      return this.gather(text);
    }
    this.jsonLines = true;
    return this.convert(value, line);
  }

  private gather(text: string): LineResult[] {
    this.docBytes += text.length + 1;
    if (this.docBytes > this.maxDocBytes) {
      const first = this.doc!.length > 0;
      this.doc = [];
      return first ? [{ line: this.docStart, message: `JSON document larger than maxFileSize (${this.maxDocBytes} bytes): not converted; write JSON Lines (one object per line) for large files` }] : [];
    }
    this.doc!.push(text);
    return [];
  }

  end(): LineResult[] {
    if (!this.doc || this.docBytes > this.maxDocBytes) return [];
    const text = this.doc.join("\n");
    this.doc = undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return [{ line: this.docStart + lineOfError(text, e as Error), message: `not valid JSON: ${(e as Error).message}` }];
    }
    const items = Array.isArray(value) ? value : [value];
    return items.flatMap((item) => this.convert(item, this.docStart));
  }

  private convert(item: unknown, line: number): LineResult[] {
    const r = newRecord();
    r.deviceName = this.name(item);
    r.deviceType = this.type(item);
    const isObject = item !== null && typeof item === "object" && !Array.isArray(item);
    for (const k of this.attrs) {
      const key = renderTemplate(k.key, item, NULL_IN_TEXT);
      const v = renderTemplate(k.value, item, NULL_IN_TEXT);
      if (key === SKIP || v === SKIP) continue;
      r.attributes[String(key)] = typed(v, k.conf, false);
      if (k.conf.reportStrategy) (r.strategies ??= {})[String(key)] = k.conf.reportStrategy as ReportStrategyConfig;
    }
    const rawTs = isObject ? ((item as Record<string, unknown>).ts ?? (item as Record<string, unknown>).timestamp) : undefined;
    if (isObject) {
      r.ts = messageTimestamp(item);
      if (r.ts === undefined && rawTs !== undefined && rawTs !== null) r.problems.push(`bad timestamp ${JSON.stringify(rawTs)}: sent with the gateway's time`);
    }
    for (const k of this.series) {
      const key = renderTemplate(k.key, item, NULL_IN_TEXT);
      const v = renderTemplate(k.value, item, NULL_IN_TEXT);
      if (key === SKIP || v === SKIP || key === "ts") continue;
      const name = String(key);
      const value = typed(v, k.conf, false);
      if (k.conf.reportStrategy) (r.strategies ??= {})[name] = k.conf.reportStrategy as ReportStrategyConfig;
      const own = k.conf.tsField ? messageTimestamp(item, k.conf) : undefined;
      if (k.conf.tsField && own === undefined) r.problems.push(`bad or missing timestamp in tsField "${k.conf.tsField}" for "${name}": sent with the gateway's time`);
      if (own === undefined) r.series[name] = value;
      else r.stamped.push({ ts: own, key: name, value });
    }
    return withProblems(finish(r, this.path), r, line);
  }
}

/** Line (0-based, within the text) of a JSON.parse error, from its "position N" when it has one. */
function lineOfError(text: string, e: Error): number {
  const m = /position (\d+)/.exec(e.message) ?? /column (\d+)/.exec(e.message);
  if (!m) return 0;
  const at = Math.min(Number(m[1]), text.length);
  let n = 0;
  for (let i = 0; i < at; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}
