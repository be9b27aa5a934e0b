// The FTP side: sessions (plain FTP, FTPS with explicit or implicit TLS), path patterns resolved by
// listing folders, and downloads split into lines as they arrive, so a file of any size passes
// through a small buffer. basic-ftp does the protocol.

import { Client, FileType, type FileInfo } from "basic-ftp";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { Readable, Writable } from "node:stream";
import { resolveConfigPath } from "../../common/tls/index.ts";
import type { FtpParameters } from "./schema.ts";

export interface RemoteFile {
  path: string;
  size: number;
  /** Size and modification time: a file is read again when this changes (upstream: MDTM + size). */
  fingerprint: string;
  modified: string;
}

const READABLE = new Set(["json", "txt", "csv"]);

export async function openSession(p: FtpParameters, configDir: string, timeoutMs = 30_000): Promise<Client> {
  const client = new Client(timeoutMs);
  const secure = p.TLSSupport ? (p.TLSMode === "implicit" ? "implicit" : true) : false;
  const anonymous = p.security.type === "anonymous";
  try {
    await client.access({
      host: p.host,
      port: p.port,
      user: anonymous ? "anonymous" : p.security.username,
      password: anonymous ? "anonymous@" : p.security.password,
      secure,
      secureOptions: secure
        ? {
            rejectUnauthorized: p.SSLVerify,
            ca: p.caCert ? readFileSync(resolveConfigPath(p.caCert, configDir)) : undefined,
            servername: isIP(p.host) ? undefined : p.host,
          }
        : undefined,
    });
  } catch (e) {
    client.close();
    throw e;
  }
  return client;
}

/** `*` in a name part: any text (full match on the name). */
function globRegex(part: string): RegExp {
  return new RegExp("^" + part.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$");
}

const join = (dir: string, name: string) => (dir === "" ? name : dir.endsWith("/") ? dir + name : `${dir}/${name}`);

/**
 * Files matching `pattern` (folders and names may hold `*`); only .json, .txt and .csv files.
 * A missing folder gives no files (the pattern may match later).
 */
export async function resolvePattern(client: Client, pattern: string): Promise<RemoteFile[]> {
  const parts = pattern.split("/");
  let dirs = [parts[0] === "" ? "/" : ""];
  const first = parts[0] === "" ? 1 : 0;
  for (let i = first; i < parts.length - 1; i++) {
    const part = parts[i]!;
    if (part === "" || part === ".") continue;
    if (!part.includes("*")) {
      dirs = dirs.map((d) => join(d, part));
      continue;
    }
    const re = globRegex(part);
    const next: string[] = [];
    for (const d of dirs) for (const f of await listDir(client, d)) if (f.type === FileType.Directory && re.test(f.name)) next.push(join(d, f.name));
    dirs = next;
  }
  const re = globRegex(parts[parts.length - 1]!);
  const files: RemoteFile[] = [];
  for (const d of dirs) {
    for (const f of await listDir(client, d)) {
      if (f.type === FileType.Directory || !re.test(f.name)) continue;
      const ext = f.name.slice(f.name.lastIndexOf(".") + 1).toLowerCase();
      if (!f.name.includes(".") || !READABLE.has(ext)) continue;
      const modified = f.rawModifiedAt || (f.modifiedAt ? f.modifiedAt.toISOString() : "00000000000000");
      files.push({ path: join(d, f.name), size: f.size, modified, fingerprint: `${f.size}@${modified}` });
    }
  }
  return files;
}

async function listDir(client: Client, dir: string): Promise<FileInfo[]> {
  try {
    return await client.list(dir === "" ? undefined : dir);
  } catch (e) {
    // 550: no such folder; anything else (connection lost) is the caller's problem
    if ((e as { code?: number }).code === 550) return [];
    throw e;
  }
}

/** Newest first, then by path (upstream's with_sorting_files). */
export function sortNewestFirst(files: RemoteFile[]): RemoteFile[] {
  return files.sort((a, b) => (a.modified === b.modified ? a.path.localeCompare(b.path) : a.modified < b.modified ? 1 : -1));
}

/**
 * Download `path` from byte `startAt`, handing each complete line (UTF-8, without its `\n` or
 * `\r\n`) to `onLine` with the byte offset just after it. Backpressure: the transfer waits while
 * `onLine` returns a pending promise. Returns the trailing bytes after the last `\n` (a line still
 * being written, or a file without a final newline) and the byte count read.
 */
export async function streamLines(
  client: Client,
  path: string,
  startAt: number,
  onLine: (text: string, endOffset: number) => void | Promise<void>,
): Promise<{ rest: Buffer; bytes: number }> {
  let rest: Buffer = Buffer.alloc(0);
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const base = startAt + bytes - rest.length;
      const buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
      bytes += chunk.length;
      let from = 0;
      const next = async () => {
        for (let nl = buf.indexOf(10, from); nl >= 0; nl = buf.indexOf(10, from)) {
          const end = nl > from && buf[nl - 1] === 13 ? nl - 1 : nl;
          const r = onLine(buf.toString("utf8", from, end), base + nl + 1);
          from = nl + 1;
          if (r) await r;
        }
        rest = Buffer.from(buf.subarray(from));
      };
      next().then(() => done(), done);
    },
  });
  await client.downloadTo(sink, path, startAt);
  return { rest, bytes };
}

/** Whole file as text, refusing more than `maxBytes`. */
export async function readText(client: Client, path: string, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      n += chunk.length;
      if (n > maxBytes) return done(new Error(`${path} is larger than ${maxBytes} bytes (maxFileSize)`));
      chunks.push(chunk);
      done();
    },
  });
  await client.downloadTo(sink, path);
  return Buffer.concat(chunks).toString("utf8");
}

export async function writeText(client: Client, path: string, text: string, append: boolean): Promise<void> {
  const source = Readable.from([Buffer.from(text)]);
  if (append) await client.appendFrom(source, path);
  else await client.uploadFrom(source, path);
}

/** Size of a file, or undefined when it does not exist. */
export async function sizeOf(client: Client, path: string): Promise<number | undefined> {
  try {
    return await client.size(path);
  } catch (e) {
    if ((e as { code?: number }).code === 550) return undefined;
    throw e;
  }
}
