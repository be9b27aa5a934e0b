// Device filtering (spec main-config.md §2.6): regexes per connector name, full match against the
// device name; a deny match drops the data. `allow` lists are accepted but do not restrict (upstream).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { errorText, type Logger } from "../observe/logger.ts";

export class DeviceFilter {
  private deny = new Map<string, RegExp[]>();
  private cache = new Map<string, boolean>();

  static none(): DeviceFilter {
    return new DeviceFilter();
  }

  static fromFile(configDir: string, file: string, log: Logger): DeviceFilter {
    const f = new DeviceFilter();
    const path = join(configDir, file);
    try {
      const doc = JSON.parse(readFileSync(path, "utf8")) as { deny?: Record<string, string[]> };
      for (const [connector, patterns] of Object.entries(doc.deny ?? {})) {
        const res: RegExp[] = [];
        for (const p of patterns ?? []) {
          try {
            res.push(new RegExp(`^(?:${p})$`));
          } catch (e) {
            log.warn(`${path}: deny pattern ${JSON.stringify(p)} of ${connector} is not a valid regular expression (${errorText(e)}); ignored`);
          }
        }
        f.deny.set(connector, res);
      }
    } catch (e) {
      log.error(`device filter file ${path} cannot be read (${errorText(e)}); no device is filtered`);
    }
    return f;
  }

  denied(connector: string, device: string): boolean {
    const res = this.deny.get(connector);
    if (!res || res.length === 0) return false;
    const key = `${connector}\u0000${device}`;
    let hit = this.cache.get(key);
    if (hit === undefined) {
      hit = res.some((r) => r.test(device));
      if (this.cache.size > 10000) this.cache.clear();
      this.cache.set(key, hit);
    }
    return hit;
  }
}
