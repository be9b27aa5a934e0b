// Register/bit encoding and decoding with the semantics of pymodbus BinaryPayloadDecoder/Builder,
// which the Python gateway uses (spec §3): multi-register values have their words reversed when
// wordOrder is LITTLE, then each word is laid out with byteOrder, and the bytes are read big-endian.

export type Order = "BIG" | "LITTLE";
export type CanonicalType =
  | "string" | "bytes" | "bits"
  | "8int" | "8uint" | "16int" | "16uint" | "16float"
  | "32int" | "32uint" | "32float" | "64int" | "64uint" | "64float";

/** Upstream's legacy names resolved to sized types (sized by objectsCount, spec §3.1). */
export function canonicalType(type: string, objectsCount = 1): CanonicalType {
  const t = type.toLowerCase();
  const bits = Math.min(Math.max(objectsCount, 1), 4) * 16;
  const sized = (kind: "int" | "uint" | "float") => `${bits === 48 ? 64 : bits}${kind}` as CanonicalType;
  switch (t) {
    case "bit": case "bits": case "coil": case "coils": return "bits";
    case "int": case "long": case "integer": case "dword/integer": return sized("int");
    case "float": case "double": return sized("float");
    case "uint": case "unsigned": case "unsigned int": case "unsigned integer": return sized("uint");
    case "word": return "16uint";
    case "dword": return "32uint";
    default: return t as CanonicalType;
  }
}

/** Registers a type occupies at minimum (strings/bytes/bits use objectsCount). */
export function typeWidth(type: CanonicalType): number {
  if (type.startsWith("64")) return 4;
  if (type.startsWith("32")) return 2;
  return 1;
}

function wordsToBytes(words: number[], byteOrder: Order, wordOrder: Order): Uint8Array {
  const ordered = wordOrder === "LITTLE" ? [...words].reverse() : words;
  const out = new Uint8Array(ordered.length * 2);
  ordered.forEach((w, i) => {
    const hi = (w >> 8) & 0xff, lo = w & 0xff;
    out[i * 2] = byteOrder === "BIG" ? hi : lo;
    out[i * 2 + 1] = byteOrder === "BIG" ? lo : hi;
  });
  return out;
}

function bytesToWords(bytes: Uint8Array, byteOrder: Order, wordOrder: Order): number[] {
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) {
    const a = bytes[i]!, b = bytes[i + 1] ?? 0;
    words.push(byteOrder === "BIG" ? (a << 8) | b : (b << 8) | a);
  }
  return wordOrder === "LITTLE" ? words.reverse() : words;
}

/** Registers as the raw big-endian byte stream the protocol carried. */
export function registersToBytes(regs: number[]): Uint8Array {
  const out = new Uint8Array(regs.length * 2);
  regs.forEach((r, i) => {
    out[i * 2] = (r >> 8) & 0xff;
    out[i * 2 + 1] = r & 0xff;
  });
  return out;
}

function bytesToRegisters(bytes: Uint8Array): number[] {
  const regs: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) regs.push((bytes[i]! << 8) | (bytes[i + 1] ?? 0));
  return regs;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function floatToHalf(v: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, v);
  const x = buf.getUint32(0);
  const sign = (x >> 16) & 0x8000;
  const exp = ((x >> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (((x >> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >> (1 - exp);
    return sign | ((m + 0x1000) >> 13);
  }
  return sign | ((exp << 10) + ((mant + 0x1000) >> 13));
}

/**
 * A 64-bit integer as a plain number while a double holds it exactly, else as a bigint: the core
 * writes bigint as an exact JSON integer (exactJson in core/records.ts), as upstream's json.dumps
 * writes a Python int, so the platform keeps a numeric key (a string would make it a text key).
 */
function exactInteger(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Scratch for decodeNumberAt: numbers are assembled here instead of in a fresh buffer per key. */
const scratch = new DataView(new ArrayBuffer(8));

/**
 * The poll hot path: a 16/32/64-bit number straight from `regs` at `offset`, without copying the
 * registers or allocating; the same result as decodeRegisters(regs.slice(offset, offset + count), …).
 * Undefined for the other types (strings, bytes, bits, 8-bit), which take decodeRegisters.
 */
export function decodeNumberAt(regs: number[], offset: number, count: number, type: CanonicalType, byteOrder: Order, wordOrder: Order): number | bigint | undefined {
  let n: number;
  switch (type) {
    case "16int": case "16uint": case "16float": n = 1; break;
    case "32int": case "32uint": case "32float": n = 2; break;
    case "64int": case "64uint": case "64float": n = 4; break;
    default: return undefined;
  }
  if (n > count || offset + n > regs.length) return undefined; // too few registers: decodeRegisters says so
  for (let i = 0; i < n; i++) {
    const w = regs[offset + (wordOrder === "LITTLE" ? n - 1 - i : i)]!;
    scratch.setUint16(i * 2, byteOrder === "BIG" ? w & 0xffff : ((w & 0xff) << 8) | ((w >> 8) & 0xff));
  }
  switch (type) {
    case "16int": return scratch.getInt16(0);
    case "16uint": return scratch.getUint16(0);
    case "16float": return halfToFloat(scratch.getUint16(0));
    case "32int": return scratch.getInt32(0);
    case "32uint": return scratch.getUint32(0);
    case "32float": return scratch.getFloat32(0);
    case "64int": return exactInteger(scratch.getBigInt64(0));
    case "64uint": return exactInteger(scratch.getBigUint64(0));
    default: return scratch.getFloat64(0);
  }
}

/** Decode one numeric/string value from registers (FC 3/4). */
export function decodeRegisters(regs: number[], type: CanonicalType, byteOrder: Order, wordOrder: Order): unknown {
  const raw = registersToBytes(regs);
  switch (type) {
    case "8int": return raw.length ? (raw[0]! << 24) >> 24 : undefined;
    case "8uint": return raw[0];
    case "string": {
      try {
        return new TextDecoder("utf-8", { fatal: true }).decode(raw);
      } catch {
        return Buffer.from(raw).toString("hex");
      }
    }
    case "bytes": return Buffer.from(raw).toString("hex");
    // A bits key reads objectsCount registers (plan.ts readCount); upstream decodes only the first.
    case "bits": return registerBits(regs, regs.length);
  }
  const n = typeWidth(type);
  if (regs.length < n) throw new Error(`${type} needs ${n} registers, got ${regs.length}`);
  const dv = new DataView(wordsToBytes(regs.slice(0, n), byteOrder, wordOrder).buffer);
  switch (type) {
    case "16int": return dv.getInt16(0);
    case "16uint": return dv.getUint16(0);
    case "16float": return halfToFloat(dv.getUint16(0));
    case "32int": return dv.getInt32(0);
    case "32uint": return dv.getUint32(0);
    case "32float": return dv.getFloat32(0);
    case "64int": return exactInteger(dv.getBigInt64(0));
    case "64uint": return exactInteger(dv.getBigUint64(0));
    case "64float": return dv.getFloat64(0);
  }
  throw new Error(`unknown type ${type}`);
}

/**
 * `bits` read from registers (FC 3/4) as upstream decodes them: the 16 bits of the first register
 * only, its high byte first and each byte from its least significant bit, i.e. register bits
 * [8, 9, … 15, 0, 1, … 7]; the last `count` of these are kept (count 1 → bit 7, count 16 → all).
 */
export function registerBits(regs: number[], count: number): boolean[] {
  if (regs.length === 0) return [];
  const r = regs[0]!;
  const bits: boolean[] = [];
  for (let i = 8; i < 16; i++) bits.push(((r >> i) & 1) === 1);
  for (let i = 0; i < 8; i++) bits.push(((r >> i) & 1) === 1);
  return bits.slice(Math.max(bits.length - count, 0));
}

/**
 * Upstream's bit order (spec §3.3): bits in protocol order, grouped by 8, each group reversed,
 * and the last `count` items kept. A 5-coil read at A gives [A+4 … A].
 */
export function orderBits(natural: boolean[], count: number): boolean[] {
  const padded = [...natural];
  while (padded.length % 8) padded.push(false);
  const out: boolean[] = [];
  for (let i = 0; i < padded.length; i += 8) out.push(...padded.slice(i, i + 8).reverse());
  return out.slice(Math.max(out.length - count, 0));
}

export interface PostOptions {
  functionCode: number;
  divider?: number;
  multiplier?: number;
  round?: number;
  bit?: number;
  bitTargetType?: "bool" | "int";
  variants?: Record<string, unknown>;
}

function pyStr(v: unknown): string {
  if (typeof v === "boolean") return v ? "True" : "False";
  return String(v);
}

/** Bits result shaping and divider/multiplier/round/variants (spec §3.2-3.3). */
export function postProcess(value: unknown, type: CanonicalType, o: PostOptions): unknown {
  let v = value;
  if (Array.isArray(v)) {
    const bits = v as boolean[];
    const asInt = o.bitTargetType === "int";
    if (o.bit !== undefined) v = bits[Math.min(o.bit, bits.length - 1)] ? 1 : 0;
    else if (bits.length === 1) v = asInt ? (bits[0] ? 1 : 0) : bits[0];
    else v = asInt ? bits.map((b) => (b ? 1 : 0)) : bits;
  } else if ((typeof v === "number" || typeof v === "bigint") && (o.functionCode === 3 || o.functionCode === 4)) {
    if (o.divider !== undefined && o.divider !== 0) v = roundTo(Number(v) / o.divider, o.round ?? 6);
    else if (o.multiplier !== undefined) v = multiply(v, o.multiplier);
  }
  if (typeof v === "number" && type.endsWith("float")) v = roundTo(v, o.round ?? 6);
  if (o.variants) {
    const name = pyStr(v);
    if (name in o.variants) v = o.variants[name];
  }
  return v;
}

/** Integer × integer stays exact (as Python's int does upstream); anything else is a double. */
function multiply(v: number | bigint, m: number): number | bigint {
  if (!Number.isInteger(m) || (typeof v === "number" && !Number.isInteger(v))) return Number(v) * m;
  if (typeof v === "number" && Number.isSafeInteger(v * m)) return v * m;
  return exactInteger(BigInt(v) * BigInt(m));
}

function roundTo(v: number, digits: number): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Encode a value for FC 6/16 into registers (pymodbus BinaryPayloadBuilder semantics, spec §3.5). */
export function encodeRegisters(value: unknown, type: CanonicalType, byteOrder: Order, wordOrder: Order, objectsCount = 1): number[] {
  if (type === "string" || type === "bytes") {
    const bytes = type === "bytes" && typeof value === "string" && /^([0-9a-f]{2})+$/i.test(value)
      ? Buffer.from(value, "hex")
      : Buffer.from(String(value), "utf-8");
    const len = Math.max(bytes.length + (bytes.length % 2), objectsCount * 2);
    const padded = new Uint8Array(len);
    padded.set(bytes);
    return bytesToRegisters(padded);
  }
  if (type === "bits") return encodeBits(value, objectsCount).map((b) => (b ? 1 : 0));
  const num = typeof value === "boolean" ? (value ? 1 : 0) : Number(value);
  if (type.endsWith("int") && typeof value !== "bigint" && !Number.isFinite(num)) throw new Error(`not a number: ${JSON.stringify(value)}`);
  if (type.endsWith("float") && Number.isNaN(num) && String(value).toLowerCase() !== "nan") throw new Error(`not a number: ${JSON.stringify(value)}`);
  if (type === "8int" || type === "8uint") {
    const b = Math.trunc(num);
    const ok = type === "8int" ? b >= -128 && b <= 127 : b >= 0 && b <= 255;
    if (!ok) throw new Error(`${num} does not fit ${type}`);
    return [(b & 0xff) << 8];
  }
  const n = typeWidth(type);
  const dv = new DataView(new ArrayBuffer(n * 2));
  const int = () => (typeof value === "bigint" ? value : BigInt(Math.trunc(num)));
  const check = (lo: bigint, hi: bigint) => {
    const v = int();
    if (v < lo || v > hi) throw new Error(`${value} does not fit ${type}`);
    return v;
  };
  switch (type) {
    case "16int": dv.setInt16(0, Number(check(-32768n, 32767n))); break;
    case "16uint": dv.setUint16(0, Number(check(0n, 65535n))); break;
    case "16float": dv.setUint16(0, floatToHalf(num)); break;
    case "32int": dv.setInt32(0, Number(check(-(2n ** 31n), 2n ** 31n - 1n))); break;
    case "32uint": dv.setUint32(0, Number(check(0n, 2n ** 32n - 1n))); break;
    case "32float": dv.setFloat32(0, num); break;
    case "64int": dv.setBigInt64(0, check(-(2n ** 63n), 2n ** 63n - 1n)); break;
    case "64uint": dv.setBigUint64(0, check(0n, 2n ** 64n - 1n)); break;
    case "64float": dv.setFloat64(0, num); break;
  }
  const beWords = bytesToWords(new Uint8Array(dv.buffer), "BIG", "BIG");
  // words in value order → registers as the builder lays them out
  return bytesToRegisters(wordsToBytes(beWords, byteOrder, wordOrder));
}

/** Coil values for FC 5/15: a list, a bool/number (objectsCount 1), or a string of 0/1 digits. */
export function encodeBits(value: unknown, objectsCount = 1): boolean[] {
  const truthy = (v: unknown) => v === true || v === 1 || v === "1" || (typeof v === "string" && v.toLowerCase() === "true");
  if (Array.isArray(value)) return value.map(truthy);
  if (objectsCount <= 1) return [truthy(value) || (typeof value === "number" && value !== 0)];
  if (typeof value === "string" && /^[01]+$/.test(value)) return [...value].map((c) => c === "1");
  if (typeof value === "number") return [...value.toString(2).padStart(objectsCount, "0")].map((c) => c === "1");
  return [truthy(value)];
}
