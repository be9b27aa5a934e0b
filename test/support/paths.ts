// Where the repository, its Bun and the CLI entry are, for tests that start processes.
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const BUN = join(ROOT, "node_modules/.bin/bun");
export const CLI = join(ROOT, "cli/main.ts");
