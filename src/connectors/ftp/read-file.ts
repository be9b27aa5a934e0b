// Reading one file: stream it from the server (PARTIAL: from the saved offset), convert line by
// line, hand the data to the gateway in batches, and move the saved offset only past lines whose
// data was stored. A malformed line is reported with file and line number and the rest is read.

import type { Client } from "basic-ftp";
import type { ConvertedData } from "../../core/model.ts";
import type { SendStatus } from "../../core/connector.ts";
import { createFileConverter, isProblem, type LineProblem, type LineResult } from "./converter.ts";
import type { CustomUplink } from "../../common/converters/custom-uplink.ts";
import { customFileConverter } from "./custom-converter.ts";
import { streamLines, type RemoteFile } from "./remote.ts";
import type { FileState } from "./state.ts";
import type { FtpPath } from "./schema.ts";

const BATCH = 500;

export class NotStoredError extends Error {}

export interface ReadOutcome {
  state: FileState;
  records: number;
  bytes: number;
  problems: LineProblem[];
  problemCount: number;
}

/**
 * FULL: `settled` says the file kept its size and time since the previous look, so a last line
 * without a newline is complete and is read. PARTIAL reads only lines that end with a newline: a
 * line being written is read once it is complete, never half now and whole later.
 */
export async function readFile(
  client: Client,
  path: FtpPath,
  file: RemoteFile,
  prev: FileState,
  settled: boolean,
  send: (data: ConvertedData[]) => Promise<SendStatus>,
  onProblem: (p: LineProblem) => void,
  custom?: CustomUplink,
): Promise<ReadOutcome> {
  const partial = path.readMode === "PARTIAL";
  // A PARTIAL file that shrank was replaced or truncated: read it from the start.
  const startAt = partial && prev.offset !== undefined && prev.offset <= file.size ? prev.offset : 0;
  const resumed = startAt > 0;
  const conv = custom ? customFileConverter(custom, path, file.path, resumed ? prev.header : undefined) : createFileConverter(path, file.path, { header: resumed ? prev.header : undefined, resumedJsonLines: resumed, maxJsonBytes: path.maxFileSize * 1024 * 1024 });
  if (!conv) throw new Error(`${file.path}: only .json, .txt and .csv files are read`);

  let line = resumed ? (prev.lines ?? 0) : 0;
  let batchLine = line;
  let storedLine = line;
  let batch: ConvertedData[] = [];
  let batchEnd = startAt;
  let stored = startAt;
  let records = 0;
  // The first problems are kept for the caller; a file of bad lines must not fill memory.
  const problems: LineProblem[] = [];
  let problemCount = 0;
  const flush = async () => {
    if (batch.length > 0) {
      const status = await send(batch);
      if (status === "NOT_STORED") throw new NotStoredError(`${file.path}: the gateway's storage did not take the data; read again on the next poll`);
      records += batch.length;
      batch = [];
    }
    stored = batchEnd;
    storedLine = batchLine;
  };
  const take = async (pending: LineResult[] | Promise<LineResult[]>, end: number) => {
    for (const r of await pending) {
      if (r === undefined) continue;
      if (isProblem(r)) {
        problemCount++;
        if (problems.length < 100) problems.push(r);
        onProblem(r);
      } else batch.push(r);
    }
    batchEnd = end;
    batchLine = line;
    if (batch.length >= BATCH) await flush();
  };
  const lineNo = () => ++line;

  const { rest, bytes } = await streamLines(client, file.path, startAt, (text, end) => take(conv.line(text, lineNo()), end));
  let end = startAt + bytes - rest.length;
  if (rest.length > 0 && settled && !partial) {
    await take(conv.line(rest.toString("utf8"), lineNo()), startAt + bytes);
    end = startAt + bytes;
  }
  if (!partial) await take(conv.end(), end);
  await flush();
  const state: FileState = partial ? { offset: stored, lines: storedLine, header: conv.header, fingerprint: file.fingerprint } : { fingerprint: file.fingerprint };
  return { state, records, bytes, problems, problemCount };
}
