// One client of the status socket, on Bun's native socket. Bun's write() sends what the kernel
// takes and returns the byte count without buffering the rest, so the unsent tail is queued here
// and flushed on drain; `queued` is what a slow reader costs us, which the server bounds.

import type { Socket } from "bun";

const encoder = new TextEncoder();

export class Peer {
  private queue: Uint8Array[] = [];
  /** Bytes accepted but not yet taken by the kernel. */
  queued = 0;
  private ending = false;
  private closed = false;
  private readonly decoder = new TextDecoder();
  /** Text received and not yet split into lines. */
  buf = "";
  /** Set after an over-long request: the rest of what it sends is ignored. */
  refused = false;

  constructor(private readonly s: Socket<Peer>) {}

  /** Decodes a received chunk; a character split across chunks waits for its rest. */
  receive(chunk: Uint8Array): string {
    return this.decoder.decode(chunk, { stream: true });
  }

  write(text: string): void {
    if (this.ending || this.closed) return;
    const bytes = encoder.encode(text);
    if (this.queue.length === 0) {
      const n = this.s.write(bytes);
      if (n < 0) return this.markClosed();
      if (n >= bytes.length) return;
      this.push(bytes.subarray(n));
    } else this.push(bytes);
  }

  /** Sends what is queued, then ends the connection (the peer sees EOF after the last byte). */
  end(text?: string): void {
    if (text !== undefined) this.write(text);
    this.ending = true;
    if (this.queue.length === 0 && !this.closed) this.s.end();
  }

  /** Called on drain: the kernel takes more. */
  flush(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const n = this.s.write(head);
      if (n < 0) return this.markClosed();
      this.queued -= Math.max(n, 0);
      if (n < head.length) {
        this.queue[0] = head.subarray(n);
        return;
      }
      this.queue.shift();
    }
    if (this.ending && !this.closed) this.s.end();
  }

  markClosed(): void {
    this.closed = true;
    this.queue = [];
    this.queued = 0;
  }

  private push(bytes: Uint8Array): void {
    this.queue.push(bytes);
    this.queued += bytes.length;
  }
}
