// `tb-gw validate --sample FILE --connector NAME [--topic file-name]`: the file converted offline
// with the same converter the connector uses; problems (bad lines) are thrown with their line.

import type { ConvertedData } from "../../core/model.ts";
import { createFileConverter, isProblem, type LineResult } from "./converter.ts";
import type { FtpConfig } from "./schema.ts";

const globMatch = (pattern: string, name: string) =>
  new RegExp("^" + pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$").test(name);

export function convertSample(config: FtpConfig, sample: Uint8Array, fileName?: string): ConvertedData[] {
  const path = fileName ? (config.paths.find((p) => globMatch(p.path, fileName) || globMatch(p.path.split("/").pop()!, fileName)) ?? config.paths[0]) : config.paths[0];
  if (!path) throw new Error("the connector has no paths to convert with");
  // user code is not run by validate
  if (path.converter) throw new Error(`path ${path.path} uses the custom converter ${path.converter.extension}: validate --sample does not run user code; run the gateway to see its output`);
  const file = fileName ?? path.path.replaceAll("*", "sample");
  const conv = createFileConverter(path, file, { maxJsonBytes: path.maxFileSize * 1024 * 1024 });
  if (!conv) throw new Error(`${file}: only .json, .txt and .csv files are read`);
  const out: ConvertedData[] = [];
  const problems: string[] = [];
  const take = (rs: LineResult[]) => {
    for (const r of rs) {
      if (r === undefined) continue;
      if (isProblem(r)) problems.push(`${file} line ${r.line}: ${r.message}`);
      else out.push(r);
    }
  };
  const lines = Buffer.from(sample).toString("utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  lines.forEach((l, i) => take(conv.line(l.endsWith("\r") ? l.slice(0, -1) : l, i + 1)));
  take(conv.end());
  if (problems.length > 0 && out.length === 0) throw new Error(problems.join("\n"));
  for (const p of problems) process.stderr.write(p + "\n");
  return out;
}
