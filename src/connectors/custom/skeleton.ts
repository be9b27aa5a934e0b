// `tb-gw new connector NAME`: the files of a working custom connector skeleton (a connector that
// sends a counter every pollPeriodMs, answers RPC "ping", logs attribute updates), its config file,
// a test the user runs with the binary itself (`BUN_BE_BUN=1 tb-gw test ...`), and the types file;
// the entry is added to tb_gateway.json when there is one.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { applyEdits, modify, parse } from "jsonc-parser";
import { replaceFile } from "../../common/fs/replace-file.ts";
// @ts-expect-error a declaration file read as text (Bun's text loader; bundled into the binary)
import typesText from "./tb-gw-extension.d.ts" with { type: "text" };

export const EXTENSION_TYPES = String(typesText);

export interface SkeletonResult {
  written: string[];
  /** The connectors[] entry, and whether it was added to the main config. */
  entry: { type: string; class: string; name: string; configuration: string };
  addedTo?: string;
  testCommand: string;
}

/** `my-sensor` → `MySensorConnector`. */
export function className(name: string): string {
  return `${name.split(/[-_]/).filter(Boolean).map((p) => p[0]!.toUpperCase() + p.slice(1)).join("")}Connector`;
}

export function checkName(name: string, builtIn: string[]): string | undefined {
  if (!/^[a-z][a-z0-9_-]*$/.test(name)) return `connector name "${name}": use lower-case letters, digits, - and _, starting with a letter (it is the type and the folder extensions/${name}/)`;
  if (builtIn.includes(name)) return `"${name}" is a built-in connector type; choose another name`;
  return undefined;
}

export function writeSkeleton(name: string, dir: string, mainConfig?: string): SkeletonResult {
  const cls = className(name);
  const file = `${name.replace(/-/g, "_")}_connector`;
  const extDir = join(dir, "extensions", name);
  const written: string[] = [];
  const put = (path: string, text: string) => {
    if (existsSync(path)) throw new Error(`${path} exists already; not overwritten (remove it or choose another name)`);
    writeFileSync(path, text);
    written.push(path);
  };
  mkdirSync(extDir, { recursive: true });
  put(join(extDir, `${file}.ts`), connectorSource(name, cls));
  put(join(extDir, `${file}.test.ts`), testSource(cls, file));
  put(join(dir, `${name}.json`), `${JSON.stringify({ deviceName: `${name} device`, deviceType: "default", pollPeriodMs: 5000 }, null, 2)}\n`);
  const types = join(dir, "extensions", "tb-gw-extension.d.ts");
  if (!existsSync(types) || readFileSync(types, "utf8") !== EXTENSION_TYPES) {
    writeFileSync(types, EXTENSION_TYPES);
    written.push(types);
  }
  const entry = { type: name, class: cls, name: `${name} connector`, configuration: `${name}.json` };
  const result: SkeletonResult = { written, entry, testCommand: `BUN_BE_BUN=1 tb-gw test ${asPath(join(extDir, `${file}.test.ts`))}` };
  if (mainConfig && existsSync(mainConfig)) {
    const text = readFileSync(mainConfig, "utf8");
    const current = parse(text) as { connectors?: Array<{ name?: string }> } | undefined;
    if (!current || typeof current !== "object") throw new Error(`${mainConfig} is not a JSON object; add the entry by hand`);
    const list = Array.isArray(current.connectors) ? current.connectors : [];
    if (!list.some((c) => c?.name === entry.name)) {
      const edits = modify(text, ["connectors", list.length], entry, { isArrayInsertion: true, formattingOptions: { insertSpaces: true, tabSize: 2 } });
      replaceFile(mainConfig, applyEdits(text, edits));
      result.addedTo = mainConfig;
    }
  }
  return result;
}

/** `bun test` reads a bare relative name as a filter: give it a path. */
function asPath(p: string): string {
  return isAbsolute(p) ? p : `./${p}`;
}

function connectorSource(name: string, cls: string): string {
  return `// ${cls}: a tb-gw custom connector (written by \`tb-gw new connector ${name}\`).
// tb_gateway.json runs it with { "type": "${name}", "class": "${cls}", "configuration": "${name}.json" }.
// Replace poll() with reading your device; hand data to the gateway with sendToStorage. The contract
// (and upstream's Python names for each method) is in ../tb-gw-extension.d.ts.

import type { AttributesUpdate, Connector, ConnectorConfig, Gateway, RpcRequestContent } from "../tb-gw-extension.d.ts";

interface Config extends ConnectorConfig {
  deviceName?: string;
  deviceType?: string;
  pollPeriodMs?: number;
}

export class ${cls} implements Connector {
  private stopped = true;
  private timer?: ReturnType<typeof setInterval>;
  private counter = 0;

  constructor(
    private readonly gateway: Gateway,
    private readonly config: Config,
    private readonly connectorType: string,
  ) {}

  async open(): Promise<void> {
    this.stopped = false;
    this.gateway.log.info(\`\${this.config.name}: polling every \${this.period()} ms\`);
    this.timer = setInterval(() => void this.poll(), this.period());
    await this.poll();
  }

  private period(): number {
    return this.config.pollPeriodMs ?? 5000;
  }

  /** One reading from the device: here a counter; put your device's protocol here. */
  private async poll(): Promise<void> {
    if (this.stopped) return;
    this.counter++;
    const status = await this.gateway.sendToStorage(this.getName(), this.getId(), {
      deviceName: this.config.deviceName ?? "${name} device",
      deviceType: this.config.deviceType ?? "default",
      attributes: [{ connector: "${cls}" }],
      telemetry: [{ ts: Date.now(), values: { counter: this.counter } }],
    });
    if (status !== "SUCCESS") this.gateway.log.warning(\`reading \${this.counter} not stored (\${status})\`);
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
  }

  getName(): string { return this.config.name; }
  getId(): string { return this.config.id; }
  getType(): string { return this.connectorType; }
  getConfig(): ConnectorConfig { return this.config; }
  isConnected(): boolean { return !this.stopped; }
  isStopped(): boolean { return this.stopped; }

  /** Shared attributes changed on the platform: write them to the device here. */
  onAttributesUpdate({ device, data }: AttributesUpdate): void {
    this.gateway.log.info(\`attribute update for \${device}: \${JSON.stringify(data)}\`);
  }

  /** Return the reply (or call this.gateway.sendRpcReply(device, data.id, reply) later). */
  serverSideRpcHandler({ device, data }: RpcRequestContent): unknown {
    if (data.method === "ping") return { pong: true, device };
    if (data.method === "getCounter") return { counter: this.counter };
    return { error: \`unknown method \${data.method}\` };
  }
}
`;
}

function testSource(cls: string, file: string): string {
  return `// A test of ${cls} without a platform: a recording gateway stands in for tb-gw.
// Run it with the gateway binary itself:  BUN_BE_BUN=1 tb-gw test ./${file}.test.ts
// (or \`bun test\` where Bun is installed).

import { expect, test } from "bun:test";
import type { Gateway } from "../tb-gw-extension.d.ts";
import { ${cls} } from "./${file}.ts";

function recordingGateway() {
  const sent: unknown[] = [];
  const quiet = () => {};
  const gateway: Gateway = {
    async sendToStorage(_name, _id, data) {
      sent.push(data);
      return "SUCCESS";
    },
    sendRpcReply: quiet,
    requestSharedAttributes: async () => ({}),
    requestClientAttributes: async () => ({}),
    addDevice: quiet,
    delDevice: quiet,
    getConfigPath: () => "./",
    log: { debug: quiet, info: quiet, warning: quiet, warn: quiet, error: quiet, exception: quiet },
    openSerial: () => Promise.reject(new Error("no serial ports in this test")),
  };
  return { gateway, sent };
}

test("open sends a first reading; close stops the polling", async () => {
  const { gateway, sent } = recordingGateway();
  const c = new ${cls}(gateway, { name: "test", id: "test-id", deviceName: "D1", pollPeriodMs: 20 }, "test");
  await c.open();
  expect(sent[0]).toMatchObject({ deviceName: "D1", telemetry: [{ values: { counter: 1 } }] });
  await c.close();
  expect(c.isStopped()).toBe(true);
});

test("RPC ping is answered", async () => {
  const { gateway } = recordingGateway();
  const c = new ${cls}(gateway, { name: "test", id: "test-id" }, "test");
  expect(await c.serverSideRpcHandler({ device: "D1", data: { id: 1, method: "ping", params: {} } })).toEqual({ pong: true, device: "D1" });
});
`;
}
