// Topic filters and topic regexes. Filters match level by level (`+` one level, `#` the rest);
// `$share/<group>/<filter>` matches on the part after the group (except `$aws` topics, as upstream).

/** The filter a shared subscription delivers on: `$share/g/a/+` → `a/+`. */
export function matchableFilter(filter: string): string {
  if (filter.startsWith("$share/")) {
    const rest = filter.slice("$share/".length);
    const slash = rest.indexOf("/");
    return slash >= 0 ? rest.slice(slash + 1) : rest;
  }
  return filter;
}

/** Compile a filter into a matcher (split once, compare levels per message). */
export function compileFilter(filter: string): (topic: string) => boolean {
  const f = matchableFilter(filter);
  if (!f.includes("+") && !f.includes("#")) return (t) => t === f;
  const levels = f.split("/");
  return (topic) => {
    const parts = topic.split("/");
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i];
      if (l === "#") return !(i === 0 && parts[0]!.startsWith("$"));
      if (i >= parts.length) return false;
      if (l === "+") {
        if (i === 0 && parts[0]!.startsWith("$")) return false;
        continue;
      }
      if (l !== parts[i]) return false;
    }
    return parts.length === levels.length;
  };
}

/** Python regex syntax that JS spells differently: named groups and their back-references. */
export function pythonRegex(source: string, flags = ""): RegExp {
  const js = source.replace(/\(\?P<(\w+)>/g, "(?<$1>").replace(/\(\?P=(\w+)\)/g, "\\k<$1>");
  return new RegExp(js, flags);
}

/**
 * Upstream Utils.get_value_from_topic: search the regex in the topic; the last capture group that
 * matched, or the whole match when there are no groups; undefined when nothing matches.
 */
export function valueFromTopic(re: RegExp, topic: string): string | undefined {
  const m = re.exec(topic);
  if (!m) return undefined;
  for (let i = m.length - 1; i >= 1; i--) if (m[i] !== undefined) return m[i];
  return m[0];
}
