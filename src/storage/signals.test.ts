// The storage-full log: one line when an episode starts and one when it ends; a storage hovering
// at its limit logs at most one episode a minute and counts the others.

import { expect, test } from "bun:test";
import { capturingLogger } from "./contract-data.ts";
import { FULL_LOG_EVERY_MS, FullEpisode } from "./signals.ts";

test("a storage flipping between full and accepting logs one episode a minute, counting the rest", () => {
  const { log, records, stop } = capturingLogger();
  let now = 1_000_000;
  const episode = new FullEpisode(log, undefined, () => now);
  try {
    for (let i = 0; i < 50; i++) {
      episode.refused(3, 20, "max_records_count 20");
      now += 100;
      episode.accepted(19);
      now += 100;
    }
    expect(records.map((r) => r.message)).toEqual([
      "storage full: 20 records stored (max_records_count 20); refusing new data until the platform acknowledges some",
      "storage accepting again after 3 refused records (1 puts); 19 records stored",
    ]);
    now += FULL_LOG_EVERY_MS;
    episode.refused(1, 20, "max_records_count 20");
    episode.accepted(19);
    expect(records.slice(2).map((r) => r.message)).toEqual([
      "storage full: 20 records stored (max_records_count 20); refusing new data until the platform acknowledges some (full 49 more times since the last report)",
      "storage accepting again after 1 refused records (1 puts); 19 records stored",
    ]);
  } finally {
    stop();
  }
});
