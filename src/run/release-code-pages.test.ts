import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { cleanReadOnlyMappings } from "./release-code-pages.ts";

const EXE = "/opt/tb-gw";
const block = (range: string, perms: string, path: string, rss: number, anon: number) =>
  `${range} ${perms} 00000000 fe:00 42                        ${path}\nSize:              100 kB\nRss:               ${rss} kB\nAnonymous:         ${anon} kB\nLocked:                0 kB`;

test("only the executable's read-only mappings without a private (written) page", () => {
  const smaps = [
    block("00200000-01a39000", "r--p", EXE, 5000, 0),
    block("01a40000-0684a000", "r-xp", EXE, 24000, 0),
    block("0684a000-0685f000", "rw-p", EXE, 84, 48), // data: never
    block("0685f000-06867000", "r--p", EXE, 32, 12), // written, then made read-only: never
    block("7f0000000000-7f0000100000", "r-xp", "/usr/lib/x86_64-linux-gnu/libc.so.6", 1000, 0), // another file
    block("7f1000000000-7f1100000000", "rw-p", "", 7000, 7000),
  ].join("\n");
  expect(cleanReadOnlyMappings(smaps, EXE)).toEqual([
    { start: 0x200000n, length: 0x1a39000n - 0x200000n, rssKb: 5000 },
    { start: 0x1a40000n, length: 0x684a000n - 0x1a40000n, rssKb: 24000 },
  ]);
});

test("a process keeps running correctly after its code pages are released", () => {
  // in a child: this runtime's own text and read-only data are unmapped, then used again
  const script = `
    import { releaseCodePages } from ${JSON.stringify(join(import.meta.dir, "release-code-pages.ts"))};
    const lines = [];
    const log = { debug: (m) => lines.push(m) };
    const rssFile = () => Number(/RssFile:\\s+(\\d+)/.exec(require("fs").readFileSync("/proc/self/status", "utf8"))[1]);
    const before = rssFile();
    const kb = releaseCodePages(log);
    const after = rssFile();
    // work that needs code that was unmapped: JSON, regexps, crypto, a timer, a promise
    const v = JSON.parse(JSON.stringify({ a: [1, 2, 3] })).a.reduce((x, y) => x + y, 0);
    const h = new Bun.CryptoHasher("sha256").update("x").digest("hex").slice(0, 8);
    await new Promise((r) => setTimeout(r, 10));
    console.log(JSON.stringify({ kb, before, after, v, h, lines }));
  `;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  expect(r.stderr).toBe("");
  const out = JSON.parse(r.stdout);
  expect(out.v).toBe(6);
  expect(out.h).toBe("2d711642");
  expect(out.kb).toBeGreaterThan(1024);
  expect(out.after).toBeLessThan(out.before);
  expect(out.lines[0]).toMatch(/^start-up over: \d+\.\d MB of code pages unmapped/);
});
