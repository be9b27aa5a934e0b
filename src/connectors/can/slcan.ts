// The Lawicel (slcan) serial-line protocol, as text: CAN frames and adapter commands are ASCII
// lines ending in CR. Frames: `tIIIL<data>` (11-bit id), `TIIIIIIIIL<data>` (29-bit), `r`/`R` for
// remote frames, and the CAN FD extension used by CANable-style firmware: `d`/`D` (FD) and `b`/`B`
// (FD with bit rate switch), whose length digit is the FD DLC code (0-F). Adapters answer commands
// with CR (ok) or BEL (error) and may acknowledge a sent frame with `z`/`Z` + CR; a received frame
// may carry a 4-digit timestamp after its data. Pure code: the serial device is in bus.ts.

export interface CanFrame {
  id: number;
  extended: boolean;
  data: Uint8Array;
  fd?: boolean;
  brs?: boolean;
  remote?: boolean;
}

/** Bit rate → the adapter's `Sn` command (python-can's table). */
export const SLCAN_BITRATES: Record<string, string> = {
  "10000": "S0",
  "20000": "S1",
  "50000": "S2",
  "100000": "S3",
  "125000": "S4",
  "250000": "S5",
  "500000": "S6",
  "750000": "S7",
  "1000000": "S8",
  "83300": "S9",
};

/** CAN FD data lengths by DLC code. */
const FD_LENGTHS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64];

/** The DLC code for `n` data bytes and the length the frame really has (FD pads up to the next size). */
export function fdDlc(n: number): { code: number; length: number } {
  const code = FD_LENGTHS.findIndex((l) => l >= n);
  if (code < 0) throw new Error(`${n} bytes do not fit in a CAN FD frame (at most 64)`);
  return { code, length: FD_LENGTHS[code]! };
}

const hex = (n: number, digits: number) => n.toString(16).toUpperCase().padStart(digits, "0");

/** One frame as an slcan line (with the CR). Classic frames carry at most 8 bytes; FD frames are padded with zeros to a valid length. */
export function encodeFrame(f: CanFrame): string {
  const idText = f.extended ? hex(f.id, 8) : hex(f.id, 3);
  if (f.extended ? f.id > 0x1fffffff : f.id > 0x7ff) throw new Error(`arbitration id ${f.id} does not fit in ${f.extended ? 29 : 11} bits`);
  if (f.remote) return `${f.extended ? "R" : "r"}${idText}${Math.min(f.data.length, 8)}\r`;
  if (f.fd) {
    const { code, length } = fdDlc(f.data.length);
    const data = new Uint8Array(length);
    data.set(f.data);
    const cmd = f.brs ? (f.extended ? "B" : "b") : f.extended ? "D" : "d";
    return `${cmd}${idText}${code.toString(16).toUpperCase()}${Buffer.from(data).toString("hex").toUpperCase()}\r`;
  }
  if (f.data.length > 8) throw new Error(`${f.data.length} bytes do not fit in a classic CAN frame (at most 8; set isFd for CAN FD)`);
  return `${f.extended ? "T" : "t"}${idText}${f.data.length}${Buffer.from(f.data).toString("hex").toUpperCase()}\r`;
}

export type SlcanLine = { kind: "frame"; frame: CanFrame } | { kind: "ok" } | { kind: "error" } | { kind: "other"; text: string } | { kind: "bad"; text: string; why: string };

/** One line without its terminator (CR or BEL); `bell` = it ended with BEL (the adapter's error). */
export function parseLine(text: string, bell = false): SlcanLine {
  if (bell) return { kind: "error" };
  if (text === "") return { kind: "ok" };
  const c = text[0]!;
  const kind = "tTrRdDbB".indexOf(c);
  if (kind < 0) return { kind: "other", text };
  const extended = c === c.toUpperCase();
  const idLen = extended ? 8 : 3;
  const idText = text.slice(1, 1 + idLen);
  const dlcText = text[1 + idLen];
  if (idText.length < idLen || dlcText === undefined || !/^[0-9a-fA-F]+$/.test(idText) || !/^[0-9a-fA-F]$/.test(dlcText)) return { kind: "bad", text, why: "too short for an id and a length" };
  const id = parseInt(idText, 16);
  const fd = c === "d" || c === "D" || c === "b" || c === "B";
  const dlc = parseInt(dlcText, 16);
  if (!fd && dlc > 8) return { kind: "bad", text, why: `length ${dlc} is above 8` };
  const length = fd ? FD_LENGTHS[dlc]! : dlc;
  const remote = c === "r" || c === "R";
  if (remote) return { kind: "frame", frame: { id, extended, data: new Uint8Array(0), remote: true } };
  const dataText = text.slice(2 + idLen, 2 + idLen + length * 2);
  if (dataText.length < length * 2 || !/^[0-9a-fA-F]*$/.test(dataText)) return { kind: "bad", text, why: `${length} data bytes announced, fewer given` };
  // after the data only the adapter's optional 4-digit timestamp: more means lines ran together
  // (a lost CR), and the glued text must not pass as this frame
  const tail = text.slice(2 + idLen + length * 2);
  if (tail !== "" && !/^[0-9a-fA-F]{4}$/.test(tail)) return { kind: "bad", text, why: `${tail.length} characters after the data (a timestamp has 4)` };
  const frame: CanFrame = { id, extended, data: Uint8Array.from(Buffer.from(dataText, "hex")) };
  if (fd) {
    frame.fd = true;
    if (c === "b" || c === "B") frame.brs = true;
  }
  return { kind: "frame", frame };
}

/** Cuts a byte stream into slcan lines (CR or BEL terminated); keeps a partial line for the next chunk. */
export class LineSplitter {
  private rest = "";

  /** Longest line kept while waiting for its end (an FD frame with timestamp is 1+8+1+128+4 characters). */
  static readonly MAX_LINE = 256;

  constructor(private readonly onLine: (text: string, bell: boolean) => void) {}

  push(chunk: Uint8Array): void {
    let text = this.rest + Buffer.from(chunk).toString("latin1");
    let from = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch === 0x0d || ch === 0x07) {
        // a stray LF (some adapters end lines with CR LF) is not part of the next line
        this.onLine(text.slice(from, i).replace(/^\n+/, ""), ch === 0x07);
        from = i + 1;
      }
    }
    text = text.slice(from);
    this.rest = text.length > LineSplitter.MAX_LINE ? "" : text;
  }
}
