// Child process for kill.test.ts: writes numbered records as fast as it can and prints, after each
// whenDurable(), the count of records confirmed so far ("durable <n>"). The test kills it with SIGKILL.
//   node_modules/.bin/bun src/storage/kill-child.ts <memory|sqlite|file> <folder>
import { Logger } from "../observe/logger.ts";
import { record, storageConfig } from "./contract-data.ts";
import { createStorage } from "./index.ts";
import type { StorageConfig } from "./schema.ts";

const [type, dir] = process.argv.slice(2) as [StorageConfig["type"], string];
const storage = createStorage(
  storageConfig(type, dir, { max_records_per_file: 500, max_file_count: 100_000, max_records_between_fsync: 1 }),
  dir,
  new Logger("kill-child", "ERROR"),
);
let written = 0;
for (;;) {
  const n = 1 + (written % 37); // uneven puts, so the kill lands at varied places
  const batch = Array.from({ length: n }, (_, k) => record(written + k));
  if (storage.put(batch) !== "stored") throw new Error("refused");
  written += n;
  await storage.whenDurable();
  process.stdout.write(`durable ${written}\n`);
}
