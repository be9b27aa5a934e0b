// FTP connector: one FTP session polls every configured path on its own period (a control
// connection does one thing at a time, so the paths take turns); each file whose size or time
// changed is read (FULL: whole, once it stopped changing; PARTIAL: what was appended). Downlink
// operations use fresh sessions of their own, queued one after the other.

import type { Client } from "basic-ftp";
import type { Connector, ConnectorContext } from "../../core/connector.ts";
import type { AttributeUpdate, RpcReply, RpcRequest } from "../../core/model.ts";
import { withFallBack, type CustomUplink } from "../../common/converters/custom-uplink.ts";
import { errorText, type Logger } from "../../observe/logger.ts";
import { loadFtpConverter } from "./custom-converter.ts";
import { fileRpc, writeAttributeUpdate } from "./downlink.ts";
import { NotStoredError, readFile } from "./read-file.ts";
import { openSession, resolvePattern, sortNewestFirst, type RemoteFile } from "./remote.ts";
import { FtpState, stateFileOf } from "./state.ts";
import type { FtpConfig, FtpPath } from "./schema.ts";

/** Problems of one file read that are logged one by one; the rest are counted. */
const MAX_PROBLEMS_SHOWN = 10;

interface PathState {
  config: FtpPath;
  due: number;
  /** Fingerprints seen at the previous listing: a file unchanged since then has settled. */
  seen: Map<string, string>;
  /** The path's custom converter, loaded at start. */
  custom?: CustomUplink;
  /** Its custom converter could not be loaded and it names no keys for the built-in one (logged at start): the path is not read. */
  unusable?: boolean;
}

/**
 * The uplink class `paths[].converter` names, loaded under the one rule for a class that cannot be used
 * (custom-uplink.ts); undefined when it names the built-in converter. start() and `run --check`
 * (the descriptor's prepare) both load it here, so they behave and log alike.
 */
export function loadPathConverter(path: FtpPath, ctx: Pick<ConnectorContext, "configDir" | "log">): Promise<CustomUplink | "built-in" | "none"> | undefined {
  const converter = path.converter;
  if (!converter) return undefined;
  const hasBuiltInMapping = path.attributes.length + path.timeseries.length > 0;
  // without keys for the built-in converter the files stay unread on the server rather than being read into nothing
  return withFallBack(() => loadFtpConverter(path, ctx.configDir, ctx.log), { extension: converter.extension, log: ctx.log, where: `path ${path.path}`, hasBuiltInMapping, otherwise: "this path is not read" });
}

/** Where the connector keeps the read positions of the files it has read (not loaded yet). */
export function readPositionsOf(ctx: Pick<ConnectorContext, "configDir" | "name">): FtpState {
  return new FtpState(stateFileOf(ctx.configDir, ctx.name));
}

/**
 * Load the read positions the last run saved; a file that cannot be read is logged and the files
 * are read from the start. start() and `run --check` (the descriptor's prepare) both load them here.
 */
export function loadReadPositions(state: FtpState, log: Logger): void {
  try {
    state.load();
  } catch (e) {
    log.error(`cannot read the saved read positions ${state.file} (${errorText(e)}); files are read from the start. Remove or fix the file`);
  }
}

export class FtpConnector implements Connector {
  private readonly state: FtpState;
  private readonly paths: PathState[];
  private session: Client | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private downlink: Promise<unknown> = Promise.resolve();
  /** Problem text per place (connection, pattern, file): logged when it starts and when it ends. */
  private readonly problems = new Map<string, string>();
  private readonly where: string;

  constructor(
    private readonly config: FtpConfig,
    private readonly ctx: ConnectorContext,
  ) {
    this.state = readPositionsOf(ctx);
    this.paths = config.paths.map((p) => ({ config: p, due: 0, seen: new Map() }));
    const p = config.parameters;
    this.where = `${p.TLSSupport ? "ftps" : "ftp"}://${p.host}:${p.port}`;
  }

  async start(): Promise<void> {
    const p = this.config.parameters;
    if (p.TLSSupport && !p.SSLVerify) this.ctx.log.warn(`SSLVerify is false: the connection to ${this.where} is encrypted but the server certificate is not checked`);
    if (!p.TLSSupport && p.security.type === "basic") this.ctx.log.info(`FTP without TLS: the password for ${p.security.username ?? ""} crosses the network in clear text (set "TLSSupport": true where the server has FTPS)`);
    loadReadPositions(this.state, this.ctx.log);
    for (const path of this.paths) {
      const loaded = await loadPathConverter(path.config, this.ctx);
      if (loaded === undefined) continue;
      if (loaded === "none") path.unusable = true;
      else if (loaded !== "built-in") path.custom = loaded;
    }
    this.loop = this.run();
  }

  private stopping: Promise<void> | undefined;

  stop(): Promise<void> {
    return (this.stopping ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.session?.close();
    await this.loop?.catch(() => undefined);
    await this.downlink.catch(() => undefined);
    try {
      this.state.save();
    } catch (e) {
      this.ctx.log.error(`cannot save the read positions to ${this.state.file}: ${errorText(e)}`);
    }
  }

  private report(place: string, problem: string | undefined): void {
    const last = this.problems.get(place);
    if (problem === last) return;
    if (problem !== undefined) {
      this.problems.set(place, problem);
      this.ctx.log.error(problem);
    } else {
      this.problems.delete(place);
      if (last !== undefined) this.ctx.log.info(`${place}: working again`);
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const now = Date.now();
      const due = this.paths.filter((p) => p.due <= now && !p.unusable);
      if (due.length > 0) {
        try {
          const client = await this.connect();
          for (const p of due) {
            if (this.stopped) break;
            await this.poll(client, p);
            p.due = Date.now() + p.config.pollPeriod * 1000;
          }
        } catch (e) {
          this.dropSession();
          if (this.stopped) break;
          // Upstream waits 10 s after a failed connection; so do we, per path.
          for (const p of due) p.due = Math.max(p.due, Date.now() + Math.min(10_000, p.config.pollPeriod * 1000));
          const hint = (e as { code?: unknown }).code === 530 ? " (the server refused the login: check parameters.security)" : "";
          this.report("connection", `${this.where}: ${errorText(e)}${hint}; trying again in 10 s`);
        }
        this.saveState();
      }
      const next = Math.min(...this.paths.filter((p) => !p.unusable).map((p) => p.due), Date.now() + 60_000);
      await this.sleep(Math.max(50, next - Date.now()));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async connect(): Promise<Client> {
    if (this.session && !this.session.closed) return this.session;
    this.session = await openSession(this.config.parameters, this.ctx.configDir);
    this.report("connection", undefined);
    return this.session;
  }

  private dropSession(): void {
    this.session?.close();
    this.session = undefined;
  }

  private saveState(): void {
    try {
      this.state.save();
      this.report("state", undefined);
    } catch (e) {
      this.report("state", `cannot save the read positions to ${this.state.file}: ${errorText(e)}; lines may be sent again after a restart`);
    }
  }

  /** One path: list, wait for changed FULL files to settle, read them. */
  private async poll(client: Client, p: PathState): Promise<void> {
    const pattern = p.config.path;
    const changed = (files: RemoteFile[]) => files.filter((f) => this.state.get(pattern, f.path).fingerprint !== f.fingerprint);
    let files = changed(await resolvePattern(client, pattern));
    // FULL files are read once they stopped changing: unchanged since the previous poll's look,
    // or else unchanged over a second look settleTime later (files still changing wait for the
    // next poll). PARTIAL reads complete lines only, so it never needs to wait.
    const sameAsBefore = (f: RemoteFile) => this.config.settleTime === 0 || p.seen.get(f.path) === f.fingerprint;
    let settled = new Set(files.filter(sameAsBefore).map((f) => f.path));
    if (p.config.readMode === "FULL" && settled.size < files.length) {
      const firstLook = new Map(files.map((f) => [f.path, f.fingerprint]));
      for (const f of files) p.seen.set(f.path, f.fingerprint);
      await this.sleep(this.config.settleTime * 1000);
      if (this.stopped) return;
      files = changed(await resolvePattern(client, pattern));
      settled = new Set(files.filter((f) => firstLook.get(f.path) === f.fingerprint).map((f) => f.path));
    }
    for (const f of files) p.seen.set(f.path, f.fingerprint);
    if (p.config.sortFiles) sortNewestFirst(files);

    const maxBytes = p.config.maxFileSize * 1024 * 1024;
    for (const f of files) {
      if (this.stopped) return;
      const isSettled = settled.has(f.path);
      if (p.config.readMode === "FULL" && !isSettled) continue;
      const place = `${pattern} ${f.path}`;
      const prev = this.state.get(pattern, f.path);
      const toRead = p.config.readMode === "FULL" ? f.size : f.size - (prev.offset ?? 0);
      if (p.config.readMode === "FULL" && toRead >= maxBytes) {
        this.report(place, `${f.path}: ${f.size} bytes, not below maxFileSize (${p.config.maxFileSize} MB): skipped; raise maxFileSize in the path's config to read it`);
        continue;
      }
      let shown = 0;
      try {
        const out = await readFile(
          client,
          p.config,
          f,
          prev,
          isSettled,
          (data) => this.ctx.sendData(data),
          // A file of bad lines must not flood the log: the first ones, then a count.
          (problem) => shown++ < MAX_PROBLEMS_SHOWN && this.ctx.log.warn(`${f.path} line ${problem.line}: ${problem.message}`),
          p.custom,
        );
        if (out.problemCount > MAX_PROBLEMS_SHOWN) this.ctx.log.warn(`${f.path}: ${out.problemCount - MAX_PROBLEMS_SHOWN} more lines with problems not shown (${out.problemCount} in all)`);
        this.state.set(pattern, f.path, out.state);
        // Saved after each file, so that a crash later in this poll does not resend this file.
        this.saveState();
        this.ctx.log.debug(`${f.path}: ${out.records} records from ${out.bytes} bytes`);
        this.report(place, undefined);
      } catch (e) {
        if (e instanceof NotStoredError) {
          this.report(place, errorText(e));
          return;
        }
        if (client.closed) throw e;
        this.report(place, `${f.path}: cannot read (${errorText(e)}); trying again on the next poll`);
      }
    }
  }

  /** Downlink operations one at a time, each on a fresh session (upstream does the same). */
  private withSession = <T>(fn: (client: Client) => Promise<T>): Promise<T> => {
    const run = async () => {
      const client = await openSession(this.config.parameters, this.ctx.configDir);
      try {
        return await fn(client);
      } finally {
        client.close();
      }
    };
    const result = this.downlink.then(run, run);
    this.downlink = result.catch(() => undefined);
    return result;
  };

  async onAttributeUpdate(update: AttributeUpdate): Promise<void> {
    try {
      const written = await writeAttributeUpdate(this.config.attributeUpdates, update, this.withSession, 5 * 1024 * 1024);
      if (written.length > 0) this.ctx.log.debug(`attribute update for ${update.device} written to ${written.join(", ")}`);
    } catch (e) {
      this.ctx.log.error(`attribute update for ${update.device} not written: ${errorText(e)}`);
    }
  }

  async onRpc(req: RpcRequest): Promise<RpcReply | undefined> {
    try {
      return await fileRpc(req, this.config.serverSideRpc, this.withSession, 5 * 1024 * 1024);
    } catch (e) {
      this.ctx.log.error(`RPC ${req.method}${req.device ? ` for ${req.device}` : ""} failed: ${errorText(e)}`);
      return { error: errorText(e) };
    }
  }
}
