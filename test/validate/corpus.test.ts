// Data-driven broken configs: each folder under test/cases/validate/ holds a main config
// (tb_gateway.json or .yaml), the files it names, optionally env.json (environment overrides) and
// expected.txt: every diagnostic `file:line:col: severity: message`, paths relative to the folder,
// `<dir>` for the folder itself, `*` matching any text, and lines starting with "? " optional
// (for disk-size advice that depends on the machine). Nothing more and nothing less may be reported.

import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { actualLines } from "./corpus-support.ts";

const casesDir = join(import.meta.dir, "../cases/validate");

const globToRegex = (line: string) => new RegExp("^" + line.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$");

describe("broken config corpus", () => {
  const cases = readdirSync(casesDir).filter((c) => existsSync(join(casesDir, c, "expected.txt")));
  test("the corpus has a case per error class", () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });
  for (const name of cases) {
    test(name, async () => {
      const dir = join(casesDir, name);
      const expected = readFileSync(join(dir, "expected.txt"), "utf8").split("\n").filter((l) => l.trim());
      const actual = await actualLines(dir);
      const unmatched = [...actual];
      for (const line of expected) {
        const optional = line.startsWith("? ");
        const re = globToRegex(optional ? line.slice(2) : line);
        const i = unmatched.findIndex((a) => re.test(a));
        if (i >= 0) unmatched.splice(i, 1);
        else if (!optional) throw new Error(`expected diagnostic not reported:\n  ${line}\nreported:\n  ${actual.join("\n  ")}`);
      }
      if (unmatched.length) throw new Error(`unexpected diagnostics:\n  ${unmatched.join("\n  ")}`);
    });
  }
});
