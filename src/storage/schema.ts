// Schema of the main config's `storage` section. Field names and defaults are upstream's; the
// sample config carries the union of all fields, so every variant accepts all of them.

import { z } from "zod";

const common = {
  // memory
  max_records_count: z.number().int().positive().default(10000).describe("memory: capacity in records; when full new data is refused (never evicts)"),
  read_records_count: z.number().int().positive().default(1000).describe("memory: records per read"),
  // file
  data_folder_path: z.string().default("./data/").describe("file: folder of data and state files, relative to the config folder"),
  max_file_count: z.number().int().positive().default(5).describe("file: max data files; when exceeded new data is refused"),
  max_records_per_file: z.number().int().positive().default(3).describe("file: records per data file before a new one is started"),
  max_read_records_count: z.number().int().positive().default(1000).describe("file/sqlite: upstream's records per read; tb-gw reads at least as many as fill its in-flight window"),
  max_records_between_fsync: z.number().int().positive().default(1).describe("file: records written between fsyncs"),
  // sqlite
  data_file_path: z.string().default("./data/").describe("sqlite: folder of the database files (data.db, data_<ms>.db)"),
  messages_ttl_check_in_hours: z.number().positive().default(1).describe("sqlite: hours between purges of expired records"),
  messages_ttl_in_days: z.number().positive().default(7).describe("sqlite: records older than this are purged"),
  writing_batch_size: z.number().int().positive().default(1000).describe("sqlite: max rows per insert transaction"),
  size_limit: z.number().positive().default(1024).describe("sqlite: MB per database file before rotating"),
  max_db_amount: z.number().int().positive().default(10).describe("sqlite: max database files; when reached new data is refused"),
  oversize_check_period: z.number().positive().default(1).describe("sqlite: minutes between file size checks"),
};

export const StorageSchema = z
  .object({
    type: z.enum(["memory", "file", "sqlite"]).describe("event storage kind"),
    ...common,
  })
  .describe("Event storage between connectors and the platform");

export type StorageConfig = z.infer<typeof StorageSchema>;
