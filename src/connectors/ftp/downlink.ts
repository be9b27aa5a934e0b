// Downlink: attribute updates write files, RPC reads or writes files (spec/connectors/ftp.md
// "Downlink"). Each operation gets a fresh FTP session from the caller, as upstream does.

import type { Client } from "basic-ftp";
import { attributeText, fillPlaceholders, parseReservedParams, plainText } from "../../common/expressions/index.ts";
import type { AttributeUpdate, RpcReply, RpcRequest } from "../../core/model.ts";
import { readText, sizeOf, writeText } from "./remote.ts";
import type { FtpAttributeUpdate, FtpRpc } from "./schema.ts";

export type WithSession = <T>(fn: (client: Client) => Promise<T>) => Promise<T>;

const fullMatch = (pattern: string, text: string) => {
  try {
    return new RegExp(`^(?:${pattern})$`).test(text);
  } catch {
    return false;
  }
};

/** Upstream writes `{'k':'v'}` expressions: single quotes are JSON's double quotes. */
function parseJsonValue(text: string): unknown {
  return JSON.parse(text.replaceAll("'", '"'));
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Every key of the update is written (upstream writes one). Keys going to one file are written in
 * one operation: text files get one line per key; JSON files get the keys merged into one object
 * (WRITE: into the file's object, OVERRIDE: replacing the file).
 */
export async function writeAttributeUpdate(rules: FtpAttributeUpdate[], update: AttributeUpdate, withSession: WithSession, maxReadBytes: number): Promise<string[]> {
  const written: string[] = [];
  for (const rule of rules) {
    if (!fullMatch(rule.deviceNameFilter, update.device)) continue;
    const byPath = new Map<string, string[]>();
    for (const [key, value] of Object.entries(update.data)) {
      const vars = { attributeKey: key, attributeValue: value, deviceName: update.device };
      const path = fillPlaceholders(rule.path, vars, { encodeVar: attributeText });
      const text = fillPlaceholders(rule.valueExpression, vars, { encodeVar: attributeText });
      byPath.set(path, [...(byPath.get(path) ?? []), text]);
    }
    for (const [path, texts] of byPath) {
      if (path.toLowerCase().endsWith(".json")) {
        const values = texts.map((t) => {
          try {
            return parseJsonValue(t);
          } catch (e) {
            throw new Error(`attribute update for ${update.device}: "${t}" (valueExpression "${rule.valueExpression}") is not JSON, so it is not written to ${path}: ${(e as Error).message}`);
          }
        });
        const merged = values.every(isObject) ? Object.assign({}, ...values) : values[values.length - 1];
        await withSession(async (client) => {
          let out = merged;
          if (rule.writingMode === "WRITE" && isObject(merged) && (await sizeOf(client, path)) !== undefined) {
            try {
              const old = JSON.parse(await readText(client, path, maxReadBytes));
              if (isObject(old)) out = { ...old, ...merged };
            } catch {
              // not a JSON object: replaced by the new one
            }
          }
          await writeText(client, path, JSON.stringify(out), false);
        });
      } else if (rule.writingMode === "OVERRIDE") {
        await withSession((client) => writeText(client, path, texts.join("\n"), false));
      } else {
        await withSession((client) => writeText(client, path, texts.map((t) => "\n" + t).join(""), true));
      }
      written.push(path);
    }
  }
  return written;
}

interface FileRequest {
  write: boolean;
  /** "path" (read) or "path;value" (write). */
  expression: string;
}

function fromRpc(req: RpcRequest, rules: FtpRpc[]): FileRequest | undefined {
  if (!req.device) {
    // Connector RPC: ftp_read / ftp_write with params {valueExpression} (or the text itself)
    const method = req.method.replace(/^ftp_/, "");
    if (method !== "read" && method !== "write") return undefined;
    const p = req.params as { valueExpression?: unknown } | string;
    const expression = typeof p === "string" ? p : typeof p?.valueExpression === "string" ? p.valueExpression : undefined;
    if (expression === undefined) throw new Error(`${req.method}: params must be {"valueExpression": "${method === "write" ? "path;value" : "path"}"}`);
    return { write: method === "write", expression };
  }
  if (req.method === "get" || req.method === "set") {
    const p = parseReservedParams(typeof req.params === "string" ? req.params : "");
    if (!p.filePath) throw new Error(`${req.method}: params must be "filePath=<path>${req.method === "set" ? ";value=<text>" : ""}"`);
    return { write: req.method === "set", expression: req.method === "set" ? `${p.filePath};${p.value ?? ""}` : p.filePath };
  }
  const rule = rules.find((r) => fullMatch(r.deviceNameFilter, req.device!) && fullMatch(r.methodFilter, req.method));
  if (!rule) return undefined;
  const expression = fillPlaceholders(rule.valueExpression, { deviceName: req.device, methodName: req.method }, { rpcData: { params: req.params }, encodeParams: plainText });
  return { write: req.method === "write", expression };
}

/** The reply as upstream shapes it; undefined = no rule for this RPC. */
export async function fileRpc(req: RpcRequest, rules: FtpRpc[], withSession: WithSession, maxReadBytes: number): Promise<RpcReply | undefined> {
  let r: FileRequest | undefined;
  try {
    r = fromRpc(req, rules);
  } catch (e) {
    return { error: (e as Error).message };
  }
  if (!r) return undefined;
  const expression = r.expression.replaceAll("'", "");
  if (r.write) {
    const cut = expression.indexOf(";");
    if (cut <= 0) return { error: `${req.method}: expected "path;value", got "${expression}"` };
    const path = expression.slice(0, cut);
    const value = expression.slice(cut + 1);
    await withSession((client) => writeText(client, path, value, false));
    return value.length < 80 ? { result: { result: { value } } } : { result: { result: true } };
  }
  const path = expression.trim();
  if (path === "") return { error: `${req.method}: no file path in the request` };
  return { result: await withSession((client) => readText(client, path, maxReadBytes)) };
}
