// Schema of the main config's `storage` section. Field names and defaults are upstream's; the
// sample config carries the union of all fields, so every variant accepts all of them.
// Written with zod/mini (see src/config/zod.ts).

import { z } from "../config/zod.ts";

const posInt = (dflt: number, description: string) => z._default(z.number().check(z.int(), z.positive()), dflt).check(z.describe(description));
const pos = (dflt: number, description: string) => z._default(z.number().check(z.positive()), dflt).check(z.describe(description));
const str = (dflt: string, description: string) => z._default(z.string(), dflt).check(z.describe(description));

const common = {
  // memory
  max_records_count: posInt(10000, "memory: capacity in records; when full new data is refused (never evicts)"),
  read_records_count: posInt(1000, "memory: records per read"),
  // file
  data_folder_path: str("./data/", "file: folder of data and state files, relative to the config folder"),
  max_file_count: posInt(5, "file: max data files; when exceeded new data is refused"),
  max_records_per_file: posInt(3, "file: records per data file before a new one is started"),
  max_read_records_count: posInt(1000, "file/sqlite: upstream's records per read; tb-gw reads at least as many as fill its in-flight window"),
  max_records_between_fsync: posInt(1, "file: records written between fsyncs"),
  // sqlite
  data_file_path: str("./data/", "sqlite: the database file (./data/data.db) or its folder (ending in /); rotated files data_<ms>.db sit beside it; relative to the config folder"),
  messages_ttl_check_in_hours: pos(1, "sqlite: hours between purges of expired records"),
  messages_ttl_in_days: pos(7, "sqlite: records older than this are purged"),
  writing_batch_size: posInt(1000, "sqlite: max rows per insert transaction"),
  size_limit: pos(1024, "sqlite: MB per database file before rotating"),
  max_db_amount: posInt(10, "sqlite: max database files; when reached new data is refused"),
  oversize_check_period: pos(1, "sqlite: minutes between file size checks"),
};

export const StorageSchema = z
  .object({
    type: z.enum(["memory", "file", "sqlite"]).check(z.describe("event storage kind")),
    ...common,
  })
  .check(z.describe("Event storage between connectors and the platform"));

export type StorageConfig = z.infer<typeof StorageSchema>;
