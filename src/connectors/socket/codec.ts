// Text codecs with Python's behaviour, for the encodings a socket device config names: decoding a
// byte slice (upstream `bytes.decode(encoding)`, NUL bytes removed first; a failure gives Python's
// `b'...'` text of the bytes) and encoding downlink text (upstream `bytes(str(value), encoding)`),
// plus the JSON text Python's simplejson writes for attribute request replies.

/** Encodings tb-gw decodes and encodes exactly as Python does (names as Python spells them). */
export const ENCODINGS = ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "ascii", "latin-1", "hex"] as const;
export type Encoding = (typeof ENCODINGS)[number];

const ALIASES: Record<string, Encoding> = {
  "utf-8": "utf-8",
  utf8: "utf-8",
  u8: "utf-8",
  utf: "utf-8",
  "utf-16": "utf-16",
  utf16: "utf-16",
  u16: "utf-16",
  "utf-16-le": "utf-16-le",
  "utf-16le": "utf-16-le",
  "utf-16-be": "utf-16-be",
  "utf-16be": "utf-16-be",
  ascii: "ascii",
  "us-ascii": "ascii",
  "646": "ascii",
  "latin-1": "latin-1",
  latin1: "latin-1",
  latin: "latin-1",
  l1: "latin-1",
  "iso-8859-1": "latin-1",
  "iso8859-1": "latin-1",
  "8859": "latin-1",
  cp819: "latin-1",
  hex: "hex",
};

/** Python codec name → ours; undefined when not supported. Case, `_` and spaces are ignored as Python does. */
export function normalizeEncoding(name: string): Encoding | undefined {
  return ALIASES[name.trim().toLowerCase().replace(/[_ ]/g, "-")];
}

const strict = { fatal: true, ignoreBOM: true };
const UTF8 = new TextDecoder("utf-8", strict);
const UTF16LE = new TextDecoder("utf-16le", strict);
const UTF16BE = new TextDecoder("utf-16be", strict);

/** Each byte as the character of that code (ISO-8859-1, not the WHATWG "latin1" label's windows-1252). */
const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");

function decodeStrict(b: Uint8Array, enc: Exclude<Encoding, "hex">): string {
  switch (enc) {
    case "utf-8":
      return UTF8.decode(b);
    case "utf-16":
      // Python: a BOM picks the byte order and is dropped; without one, little-endian.
      if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return UTF16BE.decode(b.subarray(2));
      if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return UTF16LE.decode(b.subarray(2));
      return UTF16LE.decode(b);
    case "utf-16-le":
      return UTF16LE.decode(b);
    case "utf-16-be":
      return UTF16BE.decode(b);
    case "ascii":
      for (const x of b) if (x > 0x7f) throw new Error("not ASCII");
      return latin1(b);
    case "latin-1":
      return latin1(b);
  }
}

/**
 * One byte slice as upstream's converter gives it: `hex` → lowercase hex; otherwise the decoded text
 * without NUL characters (padding); bytes that do not decode give Python's text of the slice.
 * Upstream removes NUL *bytes* before decoding, which for UTF-16 pairs the wrong bytes ("AB" as
 * 00 41 00 42 reads as one character); the text is the same for the single-byte encodings and for UTF-8 (unless a NUL sits inside a character).
 */
export function decodeSlice(b: Uint8Array, enc: Encoding): string {
  if (enc === "hex") return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
  let text: string;
  try {
    text = decodeStrict(b, enc);
  } catch {
    return pyBytesRepr(b);
  }
  return text.includes("\0") ? text.replaceAll("\0", "") : text;
}

/** Python's `repr(bytes)`: b'..' (b".." when the bytes hold ' but no "), printable ASCII kept, \t \n \r, \xNN. */
export function pyBytesRepr(b: Uint8Array): string {
  const quote = b.includes(0x27) && !b.includes(0x22) ? '"' : "'";
  let s = "b" + quote;
  for (const x of b) {
    if (x === 0x5c) s += "\\\\";
    else if (x === quote.charCodeAt(0)) s += "\\" + quote;
    else if (x === 0x09) s += "\\t";
    else if (x === 0x0a) s += "\\n";
    else if (x === 0x0d) s += "\\r";
    else if (x >= 0x20 && x < 0x7f) s += String.fromCharCode(x);
    else s += "\\x" + x.toString(16).padStart(2, "0");
  }
  return s + quote;
}

function utf16(text: string, littleEndian: boolean, bom: boolean): Buffer {
  const out = Buffer.alloc((bom ? 2 : 0) + text.length * 2);
  let o = 0;
  if (bom) o = littleEndian ? out.writeUInt16LE(0xfeff, 0) : out.writeUInt16BE(0xfeff, 0);
  for (let i = 0; i < text.length; i++) o = littleEndian ? out.writeUInt16LE(text.charCodeAt(i), o) : out.writeUInt16BE(text.charCodeAt(i), o);
  return out;
}

/**
 * Downlink text as bytes in `enc`, as Python's `bytes(text, enc)` (utf-16 writes a BOM, little-endian).
 * `hex` (which Python refuses for text) reads the text as hex digits. Throws when a character
 * has no encoding, as Python does.
 */
export function encodeText(text: string, enc: Encoding): Buffer {
  switch (enc) {
    case "utf-8":
      return Buffer.from(text, "utf8");
    case "utf-16":
      return utf16(text, true, true);
    case "utf-16-le":
      return utf16(text, true, false);
    case "utf-16-be":
      return utf16(text, false, false);
    case "ascii":
    case "latin-1": {
      const max = enc === "ascii" ? 0x7f : 0xff;
      const out = Buffer.alloc(text.length);
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c > max) throw new Error(`'${enc}' codec can't encode character '${text[i]}' in position ${i}`);
        out[i] = c;
      }
      return out;
    }
    case "hex": {
      const digits = text.replace(/\s+/g, "");
      if (!/^([0-9a-fA-F]{2})*$/.test(digits)) throw new Error(`"${text}" is not hex text (encoding "hex" writes hex digits as bytes)`);
      return Buffer.from(digits, "hex");
    }
  }
}

/**
 * JSON text as Python's simplejson `dumps` writes it by default: `", "` and `": "` separators and
 * every non-ASCII character escaped (`\u00e9`).
 */
export function pyJsonDumps(v: unknown): string {
  const ascii = (s: string) => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return ascii(v);
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : v > 0 ? "Infinity" : v < 0 ? "-Infinity" : "NaN";
  if (typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (Array.isArray(v)) return "[" + v.map(pyJsonDumps).join(", ") + "]";
  if (typeof v === "object")
    return (
      "{" +
      Object.entries(v as Record<string, unknown>)
        .map(([k, x]) => `${ascii(k)}: ${pyJsonDumps(x)}`)
        .join(", ") +
      "}"
    );
  return "null";
}
