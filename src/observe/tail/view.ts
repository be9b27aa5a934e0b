// The Ink view of `tb-gw tail`: a header (platform link, storage depth, rates), a key help line
// and a table of device, key, value, age, newest first. Written with createElement rather than
// JSX so the project needs no JSX compiler settings.

import { createElement as h, useEffect, useState } from "react";
import { Box, Text, render, useInput, useApp } from "ink";
import { TailStore, type Mode } from "./store.ts";
import type { Row } from "./rows.ts";
import type { StatusSnapshot } from "../status/protocol.ts";

const REDRAW_MS = 250;

export function formatAge(ms: number): string {
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min`;
  return `${Math.floor(ms / 3_600_000)} h`;
}

export function formatValue(v: unknown, width: number): string {
  const s = typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
  return s.length > width ? `${s.slice(0, width - 1)}…` : s;
}

function cell(s: string, width: number): string {
  return s.length > width ? `${s.slice(0, width - 1)}…` : s.padEnd(width);
}

function Header({ s, store }: { s: StatusSnapshot | undefined; store: TailStore }) {
  if (!s) return h(Text, { dimColor: true }, `attaching to ${store.socketPath} …`);
  const link = s.platform.state === "connected" ? h(Text, { color: "green" }, "● connected") : h(Text, { color: "red" }, `○ ${s.platform.state}`);
  return h(
    Box,
    { flexDirection: "column" },
    // one line whatever the terminal's width: a wrapped header would push the table off screen
    h(
      Text,
      { wrap: "truncate-end" },
      h(Text, { bold: true }, "tb-gw tail "),
      "platform ",
      link,
      ` ${s.platform.endpoint}  │ storage ${s.storage.kind} ${s.storage.depth} waiting${s.storage.full ? " (FULL)" : ""}  │ ${s.rates.receivedMsgs} msg/s in, ${s.rates.ackedDatapoints} dp/s acked  │ ${s.deviceCount} devices`,
    ),
    s.errors.length ? h(Text, { color: "yellow", wrap: "truncate-end" }, `last problem: ${s.errors[s.errors.length - 1]!.message}`.slice(0, 160)) : null,
  );
}

function modeTab(m: Mode, key: string, label: string, current: Mode) {
  return h(Text, { inverse: m === current }, ` ${key} ${label} `);
}

export function TailView({ store, height = 20, width = 100, now = Date.now }: { store: TailStore; height?: number; width?: number; now?: () => number }) {
  const [, setTick] = useState(0);
  const app = useApp();
  useEffect(() => {
    let dirty = false;
    const off = store.onChange(() => (dirty = true));
    const t = setInterval(() => {
      // ages move on even without new data
      if (dirty || store.visible(1).length) setTick((x) => x + 1);
      dirty = false;
    }, REDRAW_MS);
    return () => {
      off();
      clearInterval(t);
    };
  }, [store]);
  useInput((input, key) => {
    if (input === "t") store.setMode("telemetry");
    else if (input === "a") store.setMode("attributes");
    else if (input === "r") store.setMode("rpc");
    else if (input === " " || input === "p") store.togglePause();
    else if (input === "q" || key.escape) app.exit();
    setTick((x) => x + 1);
  });
  const valueWidth = Math.max(10, width - 24 - 20 - 10 - 6);
  const rows: Row[] = store.visible(Math.max(1, height));
  const t = now();
  const keyTitle = store.mode === "rpc" ? "METHOD" : "KEY";
  return h(
    Box,
    { flexDirection: "column" },
    h(Header, { s: store.status, store }),
    h(
      Text,
      { wrap: "truncate-end" },
      modeTab("telemetry", "t", "telemetry", store.mode),
      modeTab("attributes", "a", "attribute updates", store.mode),
      modeTab("rpc", "r", "RPC", store.mode),
      h(Text, { dimColor: true }, "  space pause  q quit"),
      store.paused ? h(Text, { color: "yellow", bold: true }, `  PAUSED (${store.heldCount} new)`) : null,
      store.lostEvents ? h(Text, { color: "red" }, `  ${store.lostEvents} events skipped`) : null,
    ),
    h(Text, { bold: true }, `${cell("DEVICE", 24)} ${cell(keyTitle, 20)} ${cell("VALUE", valueWidth)} ${"AGE".padStart(8)}`),
    ...rows.map((r, i) =>
      h(Text, { key: i }, `${cell(r.device, 24)} ${cell(r.kind === "attribute" ? `${r.key} (attr)` : r.kind === "rpc-reply" ? `${r.key} ↩` : r.key, 20)} ${cell(formatValue(r.value, valueWidth), valueWidth)} ${formatAge(t - r.ts).padStart(8)}`),
    ),
    rows.length === 0 ? h(Text, { dimColor: true }, store.mode === "telemetry" ? "waiting for data …" : "nothing yet") : null,
  );
}

export interface InkTail {
  status(s: StatusSnapshot): void;
  rows(r: Row[]): void;
  lost(n: number): void;
  /** Resolves when the user quits (q, Esc, Ctrl-C). */
  exited: Promise<void>;
  unmount(): void;
}

export async function startInkTail(opts: { socketPath: string }): Promise<InkTail> {
  const store = new TailStore(opts.socketPath);
  const height = Math.max(5, (process.stdout.rows ?? 24) - 6);
  const width = process.stdout.columns ?? 100;
  const app = render(h(TailView, { store, height, width }), { exitOnCtrlC: true });
  return {
    status: (s) => store.setStatus(s),
    rows: (r) => store.push(r),
    lost: (n) => store.lost(n),
    exited: app.waitUntilExit().then(() => {}),
    unmount: () => app.unmount(),
  };
}
