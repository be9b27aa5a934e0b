// "did you mean" for unknown keys and enum values: the nearest known name by edit distance,
// case differences counting as cheap (`accesstoken` → `accessToken`).

type Levenshtein = typeof import("fast-levenshtein").default; // CommonJS: require() gives module.exports, the default import
let levenshteinModule: Levenshtein | undefined;
/** Loaded on the first suggestion: only a config with a mistake needs it, a running gateway never. */
const levenshtein = (): Levenshtein => (levenshteinModule ??= require("fast-levenshtein") as Levenshtein);

export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  const lower = word.toLowerCase();
  for (const c of candidates) {
    if (c === word) continue;
    const score = c.toLowerCase() === lower ? 0.5 : levenshtein().get(lower, c.toLowerCase());
    if (score < bestScore) {
      bestScore = score;
      best = c;
    }
  }
  // Allow about one typo per four letters, at least two; beyond that a suggestion misleads.
  const limit = Math.max(2, Math.floor(word.length / 4));
  return best !== undefined && bestScore <= limit ? best : undefined;
}

export function didYouMean(word: string, candidates: Iterable<string>): string {
  const n = nearest(word, candidates);
  return n ? ` (did you mean "${n}"?)` : "";
}
