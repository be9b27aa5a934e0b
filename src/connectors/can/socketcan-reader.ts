// The receive side of a SocketCAN socket, run in a Worker thread so that waiting for frames costs
// nothing on the event loop.
//
// Why a thread and not Bun's non-blocking file stream (what the slcan serial code uses): a CAN_RAW
// socket delivers one frame per read and, with CAN FD on, the read's size (16 or 72) is the only
// thing telling a can_frame from a canfd_frame. Bun's file stream drains a readable fd into one
// chunk, so datagram boundaries are lost (measured: 50 mixed 16/72-byte datagrams arrive as one
// 1,752-byte chunk). A bounded-wait timer loop on the main thread would wake up all the time when
// the bus is idle. So the thread blocks in poll(2) (CPU ~0 while the bus is quiet), reads frames
// one by one until the socket is empty, and posts them to the main thread in batches: at most
// MAX_BATCH frames or MAX_HOLD_MS of waiting, so a 10,000 frames/s burst is a few hundred messages
// a second, not ten thousand.
//
// The thread's code is a string turned into a Blob URL: that needs no extra entry point in the
// compiled binary (build.ts), and `bun:ffi` loads inside it there (checked in the binary). It only
// reads: the socket is opened, written and closed by the main thread (socketcan.ts), which closes
// it only after this thread said it has left its loop, so a closed fd number is never read again.
//
// Messages to the main thread:
//   { frames: ArrayBuffer (count × 72 bytes, one frame per slot), sizes: ArrayBuffer (count bytes), count, ts }
//   { error: errno }   a read or poll failed (ENETDOWN: interface down; ENODEV: it was removed); the loop ends
//   { exited: true }   the loop is over; the fd may be closed

export const READER_SOURCE = `
import { dlopen, FFIType, ptr, read } from "bun:ffi";
const libc = dlopen("libc.so.6", {
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  __errno_location: { args: [], returns: FFIType.ptr },
});
const { poll, __errno_location } = libc.symbols;
const readFd = libc.symbols.read;
const errno = () => read.i32(__errno_location(), 0);
const SLOT = 72, MAX_BATCH = 1024, MAX_HOLD_MS = 5, IDLE_WAIT_MS = 200;
const EAGAIN = 11, EINTR = 4, POLLNVAL = 0x20;

self.onmessage = (e) => {
  const { fd, stop } = e.data;
  const stopFlag = new Int32Array(stop);
  const pfd = new Int32Array(2);
  pfd[0] = fd;
  pfd[1] = 1; // events = POLLIN (short), revents (short) = 0
  const pfdPtr = ptr(pfd);
  let frames = new Uint8Array(SLOT * MAX_BATCH);
  let sizes = new Uint8Array(MAX_BATCH);
  let count = 0, batchStart = 0;
  const flush = () => {
    postMessage({ frames: frames.buffer, sizes: sizes.buffer, count, ts: Date.now() }, [frames.buffer, sizes.buffer]);
    frames = new Uint8Array(SLOT * MAX_BATCH);
    sizes = new Uint8Array(MAX_BATCH);
    count = 0;
  };
  try {
    for (;;) {
      if (Atomics.load(stopFlag, 0) !== 0) break;
      const wait = count > 0 ? Math.max(0, MAX_HOLD_MS - (Date.now() - batchStart)) : IDLE_WAIT_MS;
      pfd[1] = 1;
      const n = poll(pfdPtr, 1, wait);
      if (n < 0) {
        const err = errno();
        if (err === EINTR) continue;
        postMessage({ error: err });
        break;
      }
      if (n > 0 && ((pfd[1] >>> 16) & POLLNVAL)) {
        postMessage({ error: 9 });
        break;
      }
      let failed = 0;
      if (n > 0) {
        for (;;) {
          const got = Number(readFd(fd, ptr(frames, count * SLOT), SLOT));
          if (got < 0) {
            const err = errno();
            if (err === EAGAIN) break;
            if (err === EINTR) continue;
            failed = err;
            break;
          }
          if (count === 0) batchStart = Date.now();
          sizes[count++] = got;
          if (count === MAX_BATCH) flush();
        }
      }
      if (count > 0 && (failed || Date.now() - batchStart >= MAX_HOLD_MS)) flush();
      if (failed) {
        postMessage({ error: failed });
        break;
      }
    }
  } finally {
    postMessage({ exited: true });
  }
};
`;
