// fast-levenshtein ships no types; this is the one function tb-gw uses.
declare module "fast-levenshtein" {
  const levenshtein: { get(a: string, b: string, opts?: { useCollator?: boolean }): number };
  export default levenshtein;
}
