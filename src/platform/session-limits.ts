// Session limits (spec platform-api.md §1.3): the platform's answer to getSessionLimits sets the
// payload size, in-flight count and rate limits; 80 % of each is used, like upstream. Without an
// answer the configured values stay.

import type { ThingsboardConfig } from "../config/main-schema.ts";
import type { Logger } from "../observe/logger.ts";
import { parseRateLimit, resolveRateLimit, type Window } from "./rate-limit.ts";

export interface SessionLimits {
  /** What the gateway packs publishes to: 90 % of maxPayloadSizeBytes, or 80 % of the platform's answer. */
  maxPayloadBytes: number;
  /**
   * The most the platform accepts at all (see platformPayloadLimit): above it ThingsBoard drops
   * the connection, so such a publish is never sent.
   */
  platformPayloadBytes: number;
  maxInflight: number;
  rateLimits: {
    messages?: Window[];
    telemetryMessages?: Window[];
    telemetryDataPoints?: Window[];
  };
}

const SHARE = 80;

/** ThingsBoard's MQTT transport default (transport.mqtt.max_payload_size). */
const THINGSBOARD_DEFAULT_MAX_PAYLOAD = 65536;

/**
 * What a platform that did not say (no getSessionLimits answer: an older ThingsBoard, or a plain
 * broker) accepts at most: ThingsBoard's default, or maxPayloadSizeBytes when configured higher.
 * Upstream sends such values; refusing them at 8196 would lose values the platform takes.
 */
export function platformPayloadLimit(tb: ThingsboardConfig, answered?: number): number {
  return answered ?? Math.max(tb.maxPayloadSizeBytes, THINGSBOARD_DEFAULT_MAX_PAYLOAD);
}

export function configuredRateLimits(tb: ThingsboardConfig): SessionLimits["rateLimits"] {
  return {
    messages: parseRateLimit(resolveRateLimit(tb.deviceMessagesRateLimits, tb.host)),
    telemetryMessages: parseRateLimit(resolveRateLimit(tb.deviceRateLimits, tb.host)),
    telemetryDataPoints: parseRateLimit(resolveRateLimit(tb.deviceDpRateLimits, tb.host)),
  };
}

export function applySessionLimits(target: SessionLimits, answer: unknown, tb: ThingsboardConfig, log: Logger): void {
  target.rateLimits = configuredRateLimits(tb);
  target.platformPayloadBytes = platformPayloadLimit(tb);
  if (!answer || typeof answer !== "object") return;
  const a = answer as Record<string, any>;
  if (typeof a.maxPayloadSize === "number" && a.maxPayloadSize > 0) {
    target.maxPayloadBytes = Math.min(Math.floor(tb.maxPayloadSizeBytes * 0.9), Math.floor(a.maxPayloadSize * (SHARE / 100)));
    target.platformPayloadBytes = platformPayloadLimit(tb, a.maxPayloadSize);
  }
  if (typeof a.maxInflightMessages === "number" && a.maxInflightMessages > 0) {
    target.maxInflight = Math.max(1, Math.min(tb.maxInflightPublishes, Math.floor(a.maxInflightMessages * (SHARE / 100))));
  }
  const g = a.gatewayRateLimits ?? {};
  if (typeof g.messages === "string") target.rateLimits.messages = parseRateLimit(g.messages, SHARE);
  if (typeof g.telemetryMessages === "string") target.rateLimits.telemetryMessages = parseRateLimit(g.telemetryMessages, SHARE);
  if (typeof g.telemetryDataPoints === "string") target.rateLimits.telemetryDataPoints = parseRateLimit(g.telemetryDataPoints, SHARE);
  log.info(`session limits: payload ≤ ${target.maxPayloadBytes} B, ≤ ${target.maxInflight} publishes in flight`);
}
