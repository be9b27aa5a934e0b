// What the connector remembers about each file it read, kept in
// `<config folder>/ftp/<connector name>.json` and replaced atomically (replace-file.ts), so that a
// restart neither resends a FULL file that did not change nor the lines of a PARTIAL file that were
// already sent. Upstream keeps nothing (and treats PARTIAL as FULL).

import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { replaceFile } from "../../common/fs/replace-file.ts";

export interface FileState {
  /** Size and time of the file when it was last read to the end. */
  fingerprint?: string;
  /** PARTIAL: bytes already converted and stored. */
  offset?: number;
  /** PARTIAL: lines up to `offset` (problems name the file's real line numbers after a restart). */
  lines?: number;
  /** PARTIAL table files: the header line, so a read that starts mid-file knows the columns. */
  header?: string;
}

interface Saved {
  version: 1;
  /** pattern (paths[].path) → remote file → state */
  files: Record<string, Record<string, FileState>>;
}

export function stateFileOf(configDir: string, connectorName: string): string {
  return join(configDir, "ftp", `${connectorName.replace(/[^A-Za-z0-9._-]/g, "_") || "ftp"}.json`);
}

export class FtpState {
  private saved: Saved = { version: 1, files: {} };
  private dirty = false;

  constructor(readonly file: string) {}

  /** Load the saved state; a missing file is a first start, a damaged one is reported by the throw. */
  load(): void {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    const parsed = JSON.parse(text) as Saved;
    if (parsed?.version !== 1 || typeof parsed.files !== "object") throw new Error(`${this.file}: not an FTP connector state file (expected {"version": 1, "files": {...}})`);
    this.saved = parsed;
  }

  get(pattern: string, path: string): FileState {
    return this.saved.files[pattern]?.[path] ?? {};
  }

  set(pattern: string, path: string, s: FileState): void {
    (this.saved.files[pattern] ??= {})[path] = s;
    this.dirty = true;
  }

  save(): void {
    if (!this.dirty) return;
    mkdirSync(dirname(this.file), { recursive: true });
    replaceFile(this.file, JSON.stringify(this.saved, null, 1));
    this.dirty = false;
  }
}
