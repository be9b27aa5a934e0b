// Where the repository, its Bun, the CLI entry and the upstream sample configs (shared/ beside the
// repository) are, for tests.
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const BUN = join(ROOT, "node_modules/.bin/bun");
export const CLI = join(ROOT, "cli/main.ts");
export const SAMPLES = join(ROOT, "../shared/reference/python-gateway-configs");
