// What the converter fuzz tests (test/fuzz/) check a converter's output and errors against, and
// random values of every JS shape a protocol library may hand a converter. Issue #17 "Fuzzing".

import type { ConvertedData } from "../../src/core/model.ts";
import { exactJson } from "../../src/core/records.ts";

/** A program error, as opposed to a converter refusing its input with a reason. */
export function isProgramError(e: unknown): boolean {
  if (!(e instanceof Error)) return true;
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e instanceof SyntaxError) return !/JSON|json|parse|Unexpected|token|payload/i.test(e.message) || e instanceof ReferenceError;
  return !e.message;
}

/** Error texts of program errors (TypeError, RangeError, ...), for errors a connector caught and logged. */
export const PROGRAM_ERROR_TEXT = /is not a function|Cannot read propert|undefined is not|null is not|is not defined|is not iterable|Maximum call stack|Invalid array length|Conversion from 'BigInt'|BigInt does not|Cannot convert|without a message/;

/** Undefined when `data` is what the platform can take: named devices, values that serialise. */
export function checkData(data: ConvertedData[]): string | undefined {
  if (!Array.isArray(data)) return "the converter did not return a list";
  for (const d of data) {
    if (typeof d.deviceName !== "string" || d.deviceName === "") return `device without a name: ${exactJson(d).slice(0, 200)}`;
    try {
      exactJson(d); // as storage writes it: bigint as an exact integer
    } catch (e) {
      return `data that is not JSON: ${String(e)}`;
    }
    for (const t of d.telemetry ?? []) if (t.values === null || typeof t.values !== "object") return `telemetry entry without values: ${exactJson(t).slice(0, 200)}`;
  }
  return undefined;
}

/** A random value of any shape: scalars at their edges, Buffers, Dates (valid or not), arrays, nested objects, cycles excluded. */
export function anyValue(rand: () => number, depth = 0): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const kinds: Array<() => unknown> = [
    () => null,
    () => undefined,
    () => pick([0, -0, 1, -1, 0.1, 1e308, -1e308, 2 ** 53 + 1, 2 ** 64, Number.NaN, Infinity, -Infinity, Number.MIN_VALUE]),
    () => rand() * 2e9 - 1e9,
    () => Math.floor(rand() * 2 ** 32),
    () => pick([0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n]),
    () => pick(["", "x", "21.5", "true", "None", "NaN", "é\u0000\uffff", "a".repeat(5000)]),
    () => rand() < 0.5,
    () => Buffer.from(Array.from({ length: Math.floor(rand() * 12) }, () => Math.floor(rand() * 256))),
    () => new Uint8Array(Math.floor(rand() * 6)),
    () => (rand() < 0.5 ? new Date(Math.floor(rand() * 2 ** 42)) : new Date(Number.NaN)),
    () => (depth > 3 ? [] : Array.from({ length: Math.floor(rand() * 4) }, () => anyValue(rand, depth + 1))),
    () => (depth > 3 ? {} : Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, (_, i) => [pick(["value", "type", "instance", "bitsUsed", "objectId", "id", "arrayIndex", `k${i}`]), anyValue(rand, depth + 1)]))),
  ];
  return pick(kinds)();
}
