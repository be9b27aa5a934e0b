// Python-style byte slices in bytes-converter expressions: `[i]`, `[a:b]`, `[:]`, negative = from
// the end; each slice is replaced by its bytes decoded as UTF-8, or as lowercase hex.

const slicePattern = /\[(-?\d*)(?::(-?\d*))?\]/g;

export interface Slices {
  texts: string[];
  parts: Array<{ from?: number; to?: number; single: boolean }>;
}

export function compileSlices(expression: string): Slices {
  const texts: string[] = [];
  const parts: Slices["parts"] = [];
  let last = 0;
  for (const m of expression.matchAll(slicePattern)) {
    const single = m[2] === undefined;
    if (single && m[1] === "") continue; // `[]` is not a slice
    texts.push(expression.slice(last, m.index));
    parts.push({
      from: m[1] === "" ? undefined : Number(m[1]),
      to: single ? undefined : m[2] === "" ? undefined : Number(m[2]),
      single,
    });
    last = m.index + m[0].length;
  }
  texts.push(expression.slice(last));
  return { texts, parts };
}

export function sliceBytes(data: Buffer, p: Slices["parts"][number]): Buffer {
  const n = data.length;
  const norm = (i: number) => (i < 0 ? Math.max(0, n + i) : Math.min(i, n));
  if (p.single) {
    const i = p.from! < 0 ? n + p.from! : p.from!;
    return i >= 0 && i < n ? data.subarray(i, i + 1) : data.subarray(0, 0);
  }
  const from = p.from === undefined ? 0 : norm(p.from);
  const to = p.to === undefined ? n : norm(p.to);
  return to > from ? data.subarray(from, to) : data.subarray(0, 0);
}

export function renderSlices(s: Slices, data: Buffer, hex: boolean): string {
  let out = s.texts[0]!;
  for (let i = 0; i < s.parts.length; i++) {
    const b = sliceBytes(data, s.parts[i]!);
    out += hex ? b.toString("hex") : b.toString("utf8");
    out += s.texts[i + 1]!;
  }
  return out;
}
