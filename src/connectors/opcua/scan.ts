// `tb-gw scan opcua <endpoint>`: browse the address space (depth-limited), print the tree with node
// ids, data types and current values; `--json` for scripts; `--emit-config FILE` writes an opcua.json
// skeleton (one mapping per object holding variables). Progress goes to stderr, results to stdout.
// Reuses the connector's client, browser and value conversion.

import chalk from "chalk";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AttributeIds, DataType, NodeClass, coerceNodeId, type ClientSession, type NodeId } from "node-opcua-client";
import { Browser, ROOT } from "./browse.ts";
import { createClient, openSession } from "./client.ts";
import { isNodeId, parseSegment, splitPath } from "./paths.ts";
import { OpcuaServerSchema } from "./schema.ts";
import { variantToJson } from "./values.ts";
import { errorText } from "../../observe/logger.ts";

export interface ScanNode {
  nodeId: string;
  browseName: string;
  nodeClass: "Object" | "Variable" | "Method";
  /** Browse names from Root, e.g. ["Objects", "1:MyObject", "1:Temperature"]. */
  path: string[];
  dataType?: string;
  value?: unknown;
  children?: ScanNode[];
}

type Opts = Record<string, string | boolean | undefined>;

const CLASS_NAMES: Record<number, ScanNode["nodeClass"]> = { [NodeClass.Object]: "Object", [NodeClass.Variable]: "Variable", [NodeClass.Method]: "Method" };

/** Browse `start` down to `depth` levels; variables get their data type and value (read in batches). */
export async function browseTree(session: ClientSession, start: NodeId, startPath: string[], depth: number, progress: (n: number) => void, aborted: () => boolean): Promise<ScanNode[]> {
  const browser = new Browser(session);
  const seen = new Set<string>([start.toString()]);
  const variables: ScanNode[] = [];
  let count = 0;
  const walk = async (nodeId: NodeId, path: string[], level: number): Promise<ScanNode[]> => {
    if (level >= depth || aborted()) return [];
    const out: ScanNode[] = [];
    for (const c of await browser.childrenOf(nodeId)) {
      const id = c.nodeId.toString();
      if (seen.has(id)) continue;
      seen.add(id);
      const browseName = c.nsIndex ? `${c.nsIndex}:${c.name}` : c.name;
      const node: ScanNode = { nodeId: id, browseName, nodeClass: CLASS_NAMES[c.nodeClass] ?? "Object", path: [...path, browseName] };
      progress(++count);
      if (node.nodeClass === "Variable") variables.push(node);
      if (node.nodeClass !== "Method") {
        const kids = await walk(c.nodeId, node.path, level + 1);
        if (kids.length) node.children = kids;
      }
      out.push(node);
    }
    return out;
  };
  const tree = await walk(start, startPath, 0);
  for (let i = 0; i < variables.length && !aborted(); i += 500) {
    const chunk = variables.slice(i, i + 500);
    const ids = chunk.map((v) => coerceNodeId(v.nodeId));
    const [values, types] = await Promise.all([
      session.read(ids.map((nodeId) => ({ nodeId, attributeId: AttributeIds.Value }))),
      session.read(ids.map((nodeId) => ({ nodeId, attributeId: AttributeIds.DataType }))),
    ]);
    chunk.forEach((v, j) => {
      const dv = values[j]!;
      v.value = dv.statusCode.isGood() ? variantToJson(dv.value) : dv.statusCode.name;
      const dt = types[j]!.value.value as NodeId | null;
      v.dataType = dt && dt.namespace === 0 && typeof dt.value === "number" && DataType[dt.value] ? DataType[dt.value] : dt?.toString();
    });
  }
  return tree;
}

function printTree(nodes: ScanNode[], indent = ""): string {
  let out = "";
  for (const n of nodes) {
    const extra = n.nodeClass === "Variable" ? `  ${n.dataType ?? "?"} = ${JSON.stringify(n.value, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}` : n.nodeClass === "Method" ? "  (method)" : "";
    out += `${indent}${n.browseName}  [${n.nodeId}]${extra}\n`;
    if (n.children) out += printTree(n.children, indent + "  ");
  }
  return out;
}

/** opcua.json skeleton: one mapping per object that directly holds matching variables. */
export function skeletonConfig(endpoint: string, tree: ScanNode[], filter?: RegExp): Record<string, unknown> {
  const mapping: unknown[] = [];
  const esc = (s: string) => s.replace(/[.]/g, "\\.");
  const visit = (n: ScanNode) => {
    const vars = (n.children ?? []).filter((c) => c.nodeClass === "Variable" && (!filter || filter.test(c.path.join("."))));
    const methods = (n.children ?? []).filter((c) => c.nodeClass === "Method");
    if (n.nodeClass === "Object" && vars.length > 0) {
      mapping.push({
        deviceNodeSource: "path",
        deviceNodePattern: ["Root", ...n.path].map(esc).join("\\."),
        deviceInfo: { deviceNameExpressionSource: "constant", deviceNameExpression: n.browseName.replace(/^\d+:/, ""), deviceProfileExpressionSource: "constant", deviceProfileExpression: "default" },
        attributes: [],
        timeseries: vars.map((v) => ({ key: v.browseName.replace(/^\d+:/, ""), type: "path", value: `\${${esc(v.browseName)}}` })),
        rpc_methods: methods.map((m) => ({ method: m.browseName.replace(/^\d+:/, ""), arguments: [] })),
        attributes_updates: [],
      });
    }
    for (const c of n.children ?? []) visit(c);
  };
  tree.forEach(visit);
  return { $schema: "./schemas/opcua.schema.json", server: { url: endpoint, enableSubscriptions: true, identity: { type: "anonymous" } }, mapping };
}

async function resolveStart(session: ClientSession, start: string): Promise<{ nodeId: NodeId; path: string[] } | undefined> {
  if (isNodeId(start)) {
    const id = coerceNodeId(start);
    return { nodeId: id, path: id.toString() === "ns=0;i=85" || start === "i=85" ? ["Objects"] : [start] };
  }
  const segs = splitPath(start);
  const rest = segs[0] === "Root" ? segs.slice(1) : segs;
  const found = await new Browser(session).resolveSegments(ROOT, rest.map(parseSegment));
  return found[0] ? { nodeId: found[0], path: rest } : undefined;
}

export async function runScan(endpoint: string, opts: Opts): Promise<number> {
  const depth = Number(opts.depth ?? 6);
  if (!Number.isInteger(depth) || depth < 1) {
    process.stderr.write(chalk.red(`--depth must be a positive integer (got ${opts.depth})\n`));
    return 2;
  }
  let filter: RegExp | undefined;
  try {
    filter = typeof opts.nodes === "string" ? new RegExp(opts.nodes) : undefined;
  } catch (e) {
    process.stderr.write(chalk.red(`--nodes is not a valid regular expression: ${errorText(e)}\n`));
    return 2;
  }
  const parsed = OpcuaServerSchema.safeParse({
    url: endpoint,
    timeoutInMillis: Number(opts.timeout ?? 5000),
    security: opts.policy,
    identity: { type: opts.username ? "username" : "anonymous", username: opts.username, password: opts.password, mode: opts.mode ?? "None" },
  });
  if (!parsed.success) {
    process.stderr.write(chalk.red(`bad options: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}\n`));
    return 2;
  }
  let aborted = false;
  const onSigint = () => {
    aborted = true;
    process.stderr.write(chalk.yellow("\ninterrupted; closing the session\n"));
  };
  process.once("SIGINT", onSigint);
  const { client, plan } = await createClient({ server: parsed.data, configDir: process.cwd(), dataDir: process.env.TB_GW_DATA_DIR ?? join(tmpdir(), "tb-gw-scan"), applicationName: "tb-gw scan" });
  let session: ClientSession | undefined;
  try {
    process.stderr.write(chalk.dim(`connecting to ${parsed.data.url} ...\n`));
    await client.connect(parsed.data.url);
    session = await openSession(client, plan);
    const start = await resolveStart(session, String(opts.start ?? "i=85"));
    if (!start) {
      process.stderr.write(chalk.red(`start node ${opts.start} not found\n`));
      return 1;
    }
    const t0 = Date.now();
    const tree = await browseTree(session, start.nodeId, start.path, depth, (n) => {
      if (n % 100 === 0) process.stderr.write(chalk.dim(`\rbrowsed ${n} nodes`));
    }, () => aborted);
    const count = countNodes(tree);
    process.stderr.write(chalk.dim(`\rbrowsed ${count} nodes in ${Date.now() - t0} ms\n`));
    if (aborted) return 1;
    if (opts.json) process.stdout.write(JSON.stringify(tree, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n");
    else process.stdout.write(printTree(tree));
    if (typeof opts.emitConfig === "string") {
      const cfg = skeletonConfig(parsed.data.url, tree, filter);
      writeFileSync(opts.emitConfig, JSON.stringify(cfg, null, 2) + "\n");
      process.stderr.write(chalk.green(`wrote ${opts.emitConfig} (${(cfg.mapping as unknown[]).length} device mappings)\n`));
    }
    return count > 0 ? 0 : 1;
  } catch (e) {
    process.stderr.write(chalk.red(`scan of ${endpoint} failed: ${errorText(e)}\n`));
    return 1;
  } finally {
    process.off("SIGINT", onSigint);
    await session?.close().catch(() => undefined);
    await client.disconnect().catch(() => undefined);
  }
}

function countNodes(nodes: ScanNode[]): number {
  return nodes.reduce((n, x) => n + 1 + countNodes(x.children ?? []), 0);
}
