// Cutting a TCP byte stream into device messages (frames). Upstream has no framing: each read of up
// to bufferSize bytes is one message, so a message the kernel split or merged is converted in
// pieces. `none` keeps that; `delimiter` and `fixed` (tb-gw additions) give whole messages. A
// connection that closes mid-frame leaves its partial frame here, and the framer is dropped with it.

export type FramingConfig =
  | { type: "none" }
  | { type: "delimiter"; delimiter: Buffer; includeDelimiter: boolean }
  | { type: "fixed"; length: number };

export interface FrameSink {
  frame(bytes: Buffer): void;
  /** A delimited frame grew past `maxBytes` without a delimiter: its bytes up to the next delimiter are dropped. */
  oversize?(dropped: number): void;
}

export interface Framer {
  push(chunk: Buffer, sink: FrameSink): void;
  /** Bytes held for an unfinished frame. */
  readonly pending: number;
}

/** `maxBytes` = bufferSize: the read size for `none`, the longest frame for `delimiter`. */
export function createFramer(cfg: FramingConfig, maxBytes: number): Framer {
  switch (cfg.type) {
    case "none":
      return new ChunkFramer(maxBytes);
    case "delimiter":
      return new DelimiterFramer(cfg.delimiter, cfg.includeDelimiter, maxBytes);
    case "fixed":
      return new FixedFramer(cfg.length);
  }
}

class ChunkFramer implements Framer {
  readonly pending = 0;
  constructor(private readonly max: number) {}
  push(chunk: Buffer, sink: FrameSink): void {
    if (chunk.length <= this.max) return sink.frame(chunk);
    for (let i = 0; i < chunk.length; i += this.max) sink.frame(chunk.subarray(i, i + this.max));
  }
}

/**
 * Frames end with `delim`. Only an unfinished frame is held (at most bufferSize bytes), so a
 * connection that sends nothing holds nothing.
 */
class DelimiterFramer implements Framer {
  private held: Buffer | undefined;
  /** Dropping an oversize frame until its delimiter arrives; `held` then keeps only a possible delimiter start. */
  private discarding = false;
  private dropped = 0;

  constructor(
    private readonly delim: Buffer,
    private readonly keep: boolean,
    private readonly max: number,
  ) {}

  get pending(): number {
    return this.discarding ? 0 : (this.held?.length ?? 0);
  }

  push(chunk: Buffer, sink: FrameSink): void {
    let data = chunk;
    let searchFrom = 0;
    if (this.held) {
      // a delimiter may begin in the held bytes and end in this chunk
      searchFrom = Math.max(0, this.held.length - this.delim.length + 1);
      data = Buffer.concat([this.held, chunk]);
      this.held = undefined;
    }
    let start = 0;
    for (let at = data.indexOf(this.delim, searchFrom); at !== -1; at = data.indexOf(this.delim, start)) {
      const body = data.subarray(start, at);
      if (this.discarding) {
        sink.oversize?.(this.dropped + body.length);
        this.discarding = false;
        this.dropped = 0;
      } else if (body.length > this.max) sink.oversize?.(body.length);
      else sink.frame(this.keep ? data.subarray(start, at + this.delim.length) : body);
      start = at + this.delim.length;
    }
    const rest = data.subarray(start);
    const mayStartDelimiter = Math.min(rest.length, this.delim.length - 1);
    if (!this.discarding && rest.length > this.max + mayStartDelimiter) {
      this.discarding = true;
      this.dropped = 0;
    }
    if (this.discarding) {
      this.dropped += rest.length - mayStartDelimiter;
      this.held = mayStartDelimiter > 0 ? Buffer.from(rest.subarray(rest.length - mayStartDelimiter)) : undefined;
    } else if (rest.length > 0) this.held = Buffer.from(rest);
  }
}

class FixedFramer implements Framer {
  private buf: Buffer | undefined;
  private held = 0;

  constructor(private readonly length: number) {}

  get pending(): number {
    return this.held;
  }

  push(chunk: Buffer, sink: FrameSink): void {
    let i = 0;
    if (this.held > 0) {
      const take = Math.min(this.length - this.held, chunk.length);
      chunk.copy(this.buf!, this.held, 0, take);
      this.held += take;
      i = take;
      if (this.held < this.length) return;
      const frame = this.buf!;
      this.buf = undefined;
      this.held = 0;
      sink.frame(frame);
    }
    for (; i + this.length <= chunk.length; i += this.length) sink.frame(chunk.subarray(i, i + this.length));
    if (i < chunk.length) {
      this.buf = Buffer.allocUnsafe(this.length);
      this.held = chunk.copy(this.buf, 0, i);
    }
  }
}
