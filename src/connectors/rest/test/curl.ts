// curl (Debian package) as the device calling the REST connector: an independent HTTP client.

export interface CurlAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Run curl with `args` (plus -s -i) and parse the last response's status, headers and body. */
export async function curl(args: string[]): Promise<CurlAnswer> {
  const p = Bun.spawn(["curl", "-s", "-i", "--max-time", "20", ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`curl ${args.join(" ")} failed (${code}): ${err}`);
  let rest = out;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    const head = rest.slice(0, end);
    const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(head)?.[1]);
    rest = rest.slice(end + 4);
    if (status === 100) continue;
    const headers: Record<string, string> = {};
    for (const line of head.split("\r\n").slice(1)) {
      const i = line.indexOf(":");
      if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    return { status, headers, body: rest };
  }
}

/** POST a JSON body. */
export function postJson(url: string, body: unknown, extra: string[] = []): Promise<CurlAnswer> {
  return curl(["-H", "Content-Type: application/json", "--data-binary", typeof body === "string" ? body : JSON.stringify(body), ...extra, url]);
}

/** Run `count` curl calls built by `args(i)`, `concurrency` at a time; statuses in call order. */
export async function curlMany(count: number, concurrency: number, args: (i: number) => string[]): Promise<CurlAnswer[]> {
  const out: CurlAnswer[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await curl(args(i));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}
