// The storage section the uplink benchmarks give the gateway: upstream's shipped settings
// (max_read_records_count 10), in a temp config folder, bounded high enough never to refuse.

export function benchStorage(kind: string): Record<string, unknown> {
  if (kind === "sqlite") return { type: "sqlite", data_file_path: "./data/", max_read_records_count: 10, messages_ttl_check_in_hours: 1, messages_ttl_in_days: 7 };
  if (kind === "file") return { type: "file", data_folder_path: "./data/", max_file_count: 1000, max_read_records_count: 10, max_records_per_file: 10000 };
  return { type: "memory", max_records_count: 1000000, read_records_count: 100 };
}
