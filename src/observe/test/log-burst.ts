// Child of logger.test.ts: logs a burst of numbered lines at INFO.
import { logger } from "../logger.ts";
const log = logger("burst");
const n = Number(process.argv[2] ?? 20000);
for (let i = 0; i < n; i++) log.info(`line ${i} ${"x".repeat(50)}`);
