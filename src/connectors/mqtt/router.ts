// Which mappings (converters) a topic goes to. Several mappings may match one topic; every match
// converts the message. The answer is cached per topic, since devices reuse a small set of topics.

import { compileFilter } from "./topic.ts";
import type { UplinkConverter } from "./converters/index.ts";

export interface Route {
  filter: string;
  qos: 0 | 1 | 2;
  converter: UplinkConverter;
}

const NONE: readonly Route[] = [];

export class TopicRouter {
  private readonly entries: Array<{ match: (t: string) => boolean; route: Route }> = [];
  private cache = new Map<string, readonly Route[]>();

  add(route: Route): void {
    this.entries.push({ match: compileFilter(route.filter), route });
    this.cache.clear();
  }

  routes(topic: string): readonly Route[] {
    let hit = this.cache.get(topic);
    if (hit) return hit;
    const found: Route[] = [];
    for (const e of this.entries) if (e.match(topic)) found.push(e.route);
    hit = found.length > 0 ? found : NONE;
    // bounded: a device fleet publishing on endless distinct topics must not grow memory
    if (this.cache.size >= 50_000) this.cache.clear();
    this.cache.set(topic, hit);
    return hit;
  }

  /** Filters to subscribe (the highest QoS when several mappings share one). */
  subscriptions(): Array<{ filter: string; qos: 0 | 1 | 2 }> {
    return this.entries.map((e) => ({ filter: e.route.filter, qos: e.route.qos }));
  }
}
