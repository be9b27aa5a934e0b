// FTP connector descriptor: schema eagerly, the connector's code (and basic-ftp) only when a config uses it.

import type { ConnectorDescriptor } from "../../core/connector.ts";
import { FtpConfigSchema, type FtpConfig } from "./schema.ts";

export const descriptor: ConnectorDescriptor<FtpConfig> = {
  type: "ftp",
  schema: FtpConfigSchema,
  title: "FTP: polls JSON, table and sliced-text files on an FTP/FTPS server; attribute updates and RPC write or read files",
  async create(config, ctx) {
    const { FtpConnector } = await import("./connector.ts");
    return new FtpConnector(config, ctx);
  },
  /** run --check: the saved read positions (read, never written) and each path's custom converter, with start()'s own functions. */
  async prepare(config, ctx) {
    const { loadPathConverter, loadReadPositions, readPositionsOf } = await import("./connector.ts");
    loadReadPositions(readPositionsOf(ctx), ctx.log);
    for (const path of config.paths) await loadPathConverter(path, ctx);
  },
  pollTargets(raw) {
    const p = (raw.parameters ?? raw) as { host?: unknown; port?: unknown };
    const paths = Array.isArray(raw.paths) ? (raw.paths as Array<{ path?: unknown }>) : [];
    return paths.map((x, i) => ({ path: ["paths", i], target: `ftp ${String(p.host)}:${String(p.port ?? 21)} ${String(x.path)}` }));
  },
  /** `--topic` is the file name the sample stands for (its extension picks the view); default: the first path's pattern. */
  async convertSample(config, sample, opts) {
    const { convertSample } = await import("./sample.ts");
    return convertSample(config, sample, opts.topic);
  },
};
