// Topic filters and topic regexes. Filters match level by level (`+` one level, `#` the rest);
// a shared subscription matches on the filter after its prefix (except `$aws` topics, as upstream).
// Messages always carry the topic they were published on, never the filter: converters and
// `deviceNameExpressionSource: topic` regexes see `sensors/a`, not `$share/g/sensors/+`.

/**
 * A shared subscription's parts, in the forms brokers accept from MQTT 3.1.1 clients as well as 5:
 * `$share/<group>/<filter>` (MQTT 5; mosquitto, EMQX, HiveMQ, VerneMQ), `$queue/<filter>` (EMQX,
 * no group) and `$share:<group>:<filter>` (HiveMQ 3). undefined for an ordinary filter.
 */
export function sharedSubscription(filter: string): { group: string; filter: string } | undefined {
  if (filter.startsWith("$share/")) {
    const rest = filter.slice("$share/".length);
    const slash = rest.indexOf("/");
    return slash > 0 ? { group: rest.slice(0, slash), filter: rest.slice(slash + 1) } : undefined;
  }
  if (filter.startsWith("$queue/")) return { group: "$queue", filter: filter.slice("$queue/".length) };
  const colon = /^\$share:([^:/]+):(.+)$/.exec(filter);
  return colon ? { group: colon[1]!, filter: colon[2]! } : undefined;
}

/** The filter a subscription delivers on: `$share/g/a/+` → `a/+`. */
export function matchableFilter(filter: string): string {
  return sharedSubscription(filter)?.filter ?? filter;
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
