// The storage contract, run against every kind.
import { storageContract } from "./contract.ts";

storageContract({ type: "memory", persistent: false, smallCapacity: { max_records_count: 12 } });
storageContract({
  type: "file",
  persistent: true,
  // Small files so that reads, acks and restarts cross file boundaries.
  defaults: { max_file_count: 100, max_records_per_file: 7 },
  smallCapacity: { max_file_count: 3, max_records_per_file: 4 },
});
storageContract({
  type: "sqlite",
  persistent: true,
  smallCapacity: { size_limit: 0.05, max_db_amount: 1, writing_batch_size: 10 },
});
