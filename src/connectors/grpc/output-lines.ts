// A child process's output lines as gateway log lines. Python writes an uncaught exception as a
// multi-line traceback and some messages as a line ending with ":" followed by what it introduces;
// line by line they would be a dozen log lines, the first saying nothing ("Traceback (most recent
// call last):"). Here a traceback becomes one error line (the exception, then the innermost frames)
// and a line ending with ":" is joined with the next.

import { outputLine, type LineLevel } from "./launch.ts";

/** Innermost frames shown for a traceback. */
const FRAMES_SHOWN = 3;

export class OutputLines {
  private traceback: string[] | undefined;
  private held: string | undefined;

  constructor(
    private readonly stream: "stdout" | "stderr",
    private readonly emit: (level: LineLevel, text: string) => void,
  ) {}

  push(raw: string): void {
    const line = raw.trimEnd();
    if (line === "") return;
    if (this.traceback) {
      if (/^\s/.test(line)) {
        this.traceback.push(line.trim());
        return;
      }
      this.flushTraceback(line);
      return;
    }
    if (line === "Traceback (most recent call last):") {
      this.traceback = [];
      return;
    }
    if (line.endsWith(":")) {
      if (this.held !== undefined) this.plain("(nothing followed)");
      this.held = line;
      return;
    }
    this.plain(line);
  }

  /** The stream ended: whatever is held goes out as it is. */
  end(): void {
    if (this.traceback) this.flushTraceback("(traceback cut off: the process ended)");
    if (this.held !== undefined) this.plain("(nothing followed)");
  }

  private plain(line: string): void {
    const text = this.takeHeld(line);
    const { level, text: message } = outputLine(text, this.stream);
    if (message !== "") this.emit(level, message);
  }

  private takeHeld(line: string): string {
    const text = this.held !== undefined ? `${this.held} ${line}` : line;
    this.held = undefined;
    return text;
  }

  private flushTraceback(exception: string): void {
    const frames = (this.traceback ?? [])
      .map((l) => /^File "([^"]+)", line (\d+)(?:, in (.+))?$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1]}:${m[2]}${m[3] ? ` in ${m[3]}` : ""}`);
    this.traceback = undefined;
    const shown = frames.slice(-FRAMES_SHOWN).join(" <- ");
    const what = exception.endsWith(":") ? `${exception} (no message)` : exception;
    this.emit("error", this.takeHeld(`${what}${shown ? ` [Python traceback, innermost last: ${frames.length > FRAMES_SHOWN ? "… " : ""}${shown}]` : ""}`));
  }
}
