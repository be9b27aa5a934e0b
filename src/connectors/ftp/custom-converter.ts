// A custom FTP uplink converter (`paths[].converter = {"type": "custom", "extension": ...}`), from
// `<config folder>/extensions/ftp/` through the shared loader (src/common/converters/custom-uplink.ts).
// Built once per path with the path entry (the converter section's keys over it, so a port reads
// `config.converter["extension-config"]` or `config.extensionConfig`). Called as upstream calls its
// FTP converter: `convert(config, data)` with `config = {file_ext, txt_file_data_view, filePath,
// fileName, headers}` and `data` one line's text for .txt/.csv (the header line of a table view is
// not converted; its columns are in `config.headers`), or the whole .json file decoded (the JSON
// value, else its text).

import { converterConstructorConfig, decodePayload } from "../../common/converters/custom.ts";
import { loadCustomUplink, type CustomUplink } from "../../common/converters/custom-uplink.ts";
import type { Logger } from "../../observe/logger.ts";
import { fileView, type LineResult } from "./converter.ts";
import type { FtpPath } from "./schema.ts";

/** As FileConverter, with results that may come later (the user's convert may be async). */
export interface AsyncFileConverter {
  line(text: string, line: number): LineResult[] | Promise<LineResult[]>;
  end(): LineResult[] | Promise<LineResult[]>;
  header?: string;
}

export function loadFtpConverter(path: FtpPath, configDir: string, log: Logger): Promise<CustomUplink> {
  const section = path.converter!;
  return loadCustomUplink({
    extension: section.extension,
    connectorType: "ftp",
    configDir,
    ctorConfig: converterConstructorConfig(path as unknown as Record<string, unknown>, section),
    log,
    where: `path ${path.path}`,
  });
}

/** One file through the user's class: lines (table/sliced) or the whole document (json). */
export function customFileConverter(custom: CustomUplink, path: FtpPath, filePath: string, header: string | undefined): AsyncFileConverter | undefined {
  const view = fileView(filePath, path.txtFileDataView);
  if (!view) return undefined;
  const fileName = filePath.slice(filePath.lastIndexOf("/") + 1);
  const ext = fileName.split(".").pop()!.toLowerCase();
  const config = (headers?: string[]) => ({ file_ext: ext, txt_file_data_view: path.txtFileDataView, filePath, fileName, headers });
  const results = async (data: unknown, headers?: string[]): Promise<LineResult[]> => custom.convert(config(headers), data);
  if (view === "json") {
    const parts: string[] = [];
    return {
      line: (text) => {
        parts.push(text);
        return [];
      },
      end: () => results(decodePayload(Buffer.from(parts.join("\n"), "utf8"))),
    };
  }
  const conv: AsyncFileConverter = {
    header: view === "table" ? header : undefined,
    line: (text) => {
      if (text.trim() === "") return [];
      if (view === "table" && conv.header === undefined) {
        conv.header = text;
        return [];
      }
      return results(text, conv.header?.split(path.delimiter).map((h) => h.trim()));
    },
    end: () => [],
  };
  return conv;
}
