// One connected charge point: its id, the `chargePoints[]` entry that admitted it, the device it
// became at BootNotification, and the CALLs the Central System sent it that await an answer.

import { randomUUID } from "node:crypto";
import { callText, errorFrameText, resultText, type OcppErrorCode } from "./frames.ts";
import type { ChargePointConverter } from "./converter.ts";

/** What the server needs from a socket: Bun's ServerWebSocket fits. */
export interface FrameSocket {
  send(text: string): number;
  close(code?: number, reason?: string): void;
}

/** A CALLERROR from the charge point, as the RPC reply tells it. */
export class OcppCallError extends Error {
  constructor(
    readonly code: string,
    readonly description: string,
    readonly details: unknown,
  ) {
    super(`${code}${description ? `: ${description}` : ""}`);
  }
}

interface Pending {
  action: string;
  resolve(payload: unknown): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class ChargePointSession {
  /** Device from the BootNotification profile; undefined until the charge point booted. */
  device: { name: string; type: string } | undefined;
  /** A TriggerMessage(BootNotification) was sent for a session that sent data before booting. */
  bootRequested = false;
  /** Messages received before the device was known, converted once it boots (bounded). */
  readonly beforeBoot: Array<{ action: string; body: Record<string, unknown>; receivedTs: number }> = [];
  /** Last problem logged for this session (bad frames), so a repeating one logs once. */
  lastProblem = "";
  private readonly pending = new Map<string, Pending>();
  closed = false;

  constructor(
    readonly id: string,
    readonly peer: string,
    readonly converter: ChargePointConverter,
    private readonly socket: FrameSocket,
  ) {}

  reply(id: string, payload: unknown): void {
    if (!this.closed) this.socket.send(resultText(id, payload));
  }

  replyError(id: string, code: OcppErrorCode, description: string): void {
    if (!this.closed) this.socket.send(errorFrameText(id, code, description));
  }

  /** Send a CALL; resolves to the CALLRESULT payload, rejects with OcppCallError on a CALLERROR, or on timeout/close. */
  call(action: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error(`charge point ${this.id} is not connected`));
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`charge point ${this.id} did not answer ${action} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, { action, resolve, reject, timer });
      if (this.socket.send(callText(id, action, payload)) === 0) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error(`${action} to charge point ${this.id} not sent: the connection is closing`));
      }
    });
  }

  /** A CALLRESULT or CALLERROR; false when it answers nothing we sent (late, or never ours). */
  settle(id: string, outcome: { payload: unknown } | { code: string; description: string; details: unknown }): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if ("payload" in outcome) p.resolve(outcome.payload);
    else p.reject(new OcppCallError(outcome.code, outcome.description, outcome.details));
    return true;
  }

  /** The socket is gone: every waiting CALL fails now rather than at its timeout. */
  markClosed(why: string): void {
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`charge point ${this.id} disconnected before answering ${p.action} (${why})`));
      this.pending.delete(id);
    }
  }

  close(code: number, reason: string): void {
    try {
      this.socket.close(code, reason);
    } catch {
      // already closed
    }
    this.markClosed(reason);
  }
}
