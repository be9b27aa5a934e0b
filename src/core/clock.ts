// The gateway's two time sources. Wall-clock time (Date.now) stamps data and is what the platform
// shows; it can be stepped by NTP, an operator or a Pi without a real-time clock, backwards or by
// days. Durations (report periods, time-to-live of cached values) are measured on the monotonic
// clock (performance.now), which steps do not move, so a clock step neither silences a periodic
// report for the hour it went back nor expires every cached value when it jumps a day ahead.

export interface Clock {
  /** Wall-clock ms since the epoch: timestamps. */
  wall(): number;
  /** Monotonic ms from an arbitrary origin: durations only. */
  monotonic(): number;
}

export const systemClock: Clock = {
  wall: () => Date.now(),
  monotonic: () => performance.now(),
};
