// KNX group addresses in the three notations upstream's `addressFormat` names (LONG "1/0/6",
// SHORT "1/6", FREE "1542"), all read to the 16-bit address; the bus library takes the 3-level text.

export interface GroupAddress {
  /** The 16-bit address. */
  raw: number;
  /** 3-level text "main/middle/sub", the form knxultimate parses. */
  text: string;
}

export function groupAddressText(raw: number): string {
  return `${(raw >> 11) & 0x1f}/${(raw >> 8) & 0x07}/${raw & 0xff}`;
}

/** "1/0/6", "1/6" or "1542" → the address; a text saying what is wrong otherwise. */
export function parseGroupAddress(s: string): GroupAddress | string {
  const parts = s.trim().split("/");
  const nums = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  const bad = `"${s}" is not a group address: write "main/middle/sub" (main 0-31, middle 0-7, sub 0-255, e.g. "1/0/6"), "main/sub" (sub 0-2047) or a number 0-65535`;
  if (nums.some((n) => Number.isNaN(n))) return bad;
  let raw: number;
  if (nums.length === 3 && nums[0]! <= 31 && nums[1]! <= 7 && nums[2]! <= 255) raw = (nums[0]! << 11) | (nums[1]! << 8) | nums[2]!;
  else if (nums.length === 2 && nums[0]! <= 31 && nums[1]! <= 2047) raw = (nums[0]! << 11) | nums[1]!;
  else if (nums.length === 1 && nums[0]! <= 65535) raw = nums[0]!;
  else return bad;
  if (raw === 0) return `"${s}" is group address 0/0/0, the broadcast address: use a group address of a datapoint`;
  return { raw, text: groupAddressText(raw) };
}

/** An address already checked by the schema. */
export function groupAddress(s: string): GroupAddress {
  const r = parseGroupAddress(s);
  if (typeof r === "string") throw new Error(r);
  return r;
}
