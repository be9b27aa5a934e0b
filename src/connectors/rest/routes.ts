// Endpoint paths in aiohttp's route syntax: `/dev/{deviceName}/data` (one path segment) and
// `{name:regex}`; matched in order, the first endpoint whose path matches answers.

export interface Route<T> {
  path: string;
  re: RegExp;
  names: string[];
  methods: Set<string>;
  target: T;
}

export function compileRoute<T>(path: string, methods: string[], target: T): Route<T> {
  const names: string[] = [];
  let re = "";
  let last = 0;
  for (const m of path.matchAll(/\{([A-Za-z_]\w*)(?::((?:[^{}]|\{[^{}]*\})+))?\}/g)) {
    re += escape(path.slice(last, m.index));
    names.push(m[1]!);
    re += m[2] ? `(${m[2]})` : "([^/]+)";
    last = m.index + m[0].length;
  }
  re += escape(path.slice(last));
  const set = new Set(methods.map((x) => x.toUpperCase()));
  // aiohttp answers HEAD for a GET route
  if (set.has("GET")) set.add("HEAD");
  return { path, re: new RegExp(`^${re}$`), names, methods: set, target };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export type RouteMatch<T> = { route: Route<T>; params: Record<string, string> } | { allowed: string[] } | undefined;

/** The route for a method and path; `{allowed}` when the path exists but not for this method. */
export function matchRoute<T>(routes: Route<T>[], method: string, pathname: string): RouteMatch<T> {
  let allowed: string[] | undefined;
  for (const r of routes) {
    const m = r.re.exec(pathname);
    if (!m) continue;
    if (!r.methods.has(method)) {
      allowed = [...new Set([...(allowed ?? []), ...r.methods])];
      continue;
    }
    const params: Record<string, string> = {};
    r.names.forEach((n, i) => {
      try {
        params[n] = decodeURIComponent(m[i + 1]!);
      } catch {
        params[n] = m[i + 1]!;
      }
    });
    return { route: r, params };
  }
  return allowed ? { allowed } : undefined;
}
