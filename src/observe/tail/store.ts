// What the Ink view shows, kept outside React so the socket can push at any rate while the view
// redraws at most a few times per second.

import type { StatusSnapshot } from "../status/protocol.ts";
import type { Row, RowKind } from "./rows.ts";

export type Mode = "telemetry" | "attributes" | "rpc";

const MODE_KINDS: Record<Mode, RowKind[]> = {
  telemetry: ["telemetry", "attribute"],
  attributes: ["attribute-update"],
  rpc: ["rpc", "rpc-reply"],
};

const KEEP = 1000;

export class TailStore {
  private buf: Row[] = [];
  status: StatusSnapshot | undefined;
  mode: Mode = "telemetry";
  paused = false;
  lostEvents = 0;
  /** Rows that arrived while paused (shown as a count, added on resume). */
  private held: Row[] = [];
  private listeners = new Set<() => void>();

  constructor(readonly socketPath = "") {}

  onChange(l: () => void): () => void {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  push(rows: Row[]): void {
    if (rows.length === 0) return;
    const into = this.paused ? this.held : this.buf;
    into.push(...rows);
    if (into.length > KEEP) into.splice(0, into.length - KEEP);
    this.changed();
  }

  setStatus(s: StatusSnapshot): void {
    this.status = s;
    this.changed();
  }

  lost(n: number): void {
    this.lostEvents += n;
    this.changed();
  }

  setMode(m: Mode): void {
    this.mode = m;
    this.changed();
  }

  togglePause(): void {
    this.paused = !this.paused;
    if (!this.paused) {
      this.push(this.held);
      this.held = [];
    }
    this.changed();
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** Newest first, the rows of the current mode. */
  visible(limit: number): Row[] {
    const kinds = MODE_KINDS[this.mode];
    const out: Row[] = [];
    for (let i = this.buf.length - 1; i >= 0 && out.length < limit; i--) {
      const r = this.buf[i]!;
      if (kinds.includes(r.kind)) out.push(r);
    }
    return out;
  }
}
