// A useGRPCForce connector: the gateway side is a grpc connector (connector.ts) whose key is the
// persisted one from persistent_keys.json, plus the Python process tb-gw launches and supervises
// (supervisor.ts): `python3 <folder>/<type>/<type>_connector.py '<json>' '<config dir>/'` (launch.ts).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ConnectorContext } from "../../core/connector.ts";
import { GrpcConnector } from "./connector.ts";
import type { ForcedConnectorConfig } from "./forced.ts";
import { autoKey } from "./keys.ts";
import { connectHost, findPython, findScript, launchJson, pythonConfigDir, pythonEnv, registrationConfiguration, scriptSearchDirs } from "./launch.ts";
import type { GrpcServer } from "./server.ts";
import { ProcessSupervisor, type SupervisorOptions } from "./supervisor.ts";

export function createForcedConnector(type: string, config: ForcedConnectorConfig, ctx: ConnectorContext): ForcedGrpcConnector {
  const server = ctx.service?.<GrpcServer>("grpc");
  if (!server)
    throw new Error(
      `connector "${ctx.name}" has "useGRPCForce": true, so it runs as a separate Python gRPC process and needs the gRPC server: ` +
        `set "grpc": {"enabled": true, "serverPort": 9595} in tb_gateway.json, or remove "useGRPCForce" to run the built-in ${type} connector inside tb-gw ` +
        `(if grpc is enabled, the server failed to start: see the error above)`,
    );
  const python = findPython(server.config.python, ctx.configDir);
  const script = findScript(type, scriptSearchDirs(ctx.configDir, server.config.connectorsDir));
  // always the generated/persisted key, whatever `key` the entry has (§4.1)
  const { key, generated } = autoKey(ctx.configDir, ctx.name);
  if (generated) ctx.log.info("generated its connector key (persistent_keys.json); the process gets it on its command line");
  if (typeof ctx.entry?.key === "string" && ctx.entry.key !== "auto") ctx.log.warn(`"key" is not used with "useGRPCForce": the process is given the key kept in persistent_keys.json`);

  const fileName = typeof ctx.entry?.configuration === "string" && ctx.entry.configuration !== "" ? ctx.entry.configuration : `${ctx.name}.json`;
  const content = { ...config, name: ctx.name, id: ctx.id };
  const logLevel = typeof ctx.entry?.logLevel === "string" ? ctx.entry.logLevel : undefined;
  const json = launchJson({
    name: ctx.name,
    type,
    id: ctx.id,
    fileName,
    content,
    key,
    host: connectHost(server.config.serverHost),
    port: server.port,
    configVersion: typeof ctx.entry?.configVersion === "string" ? ctx.entry.configVersion : undefined,
    logLevel,
  });
  const stateDir = join(ctx.dataDir, "python");
  mkdirSync(stateDir, { recursive: true });
  const configDirArg = pythonConfigDir(ctx.configDir, stateDir, logLevel);
  const supervised: SupervisorOptions = {
    command: python,
    args: [script, JSON.stringify(json), configDirArg],
    env: pythonEnv(script),
    cwd: ctx.configDir,
    log: ctx.log.child("python"),
    pidFile: join(stateDir, "process.pid"),
    // a process of an earlier gateway run: the same script with the same key (its JSON may differ if the file changed since)
    isLeftover: (argv) => argv[1] === script && launchKey(argv[2]) === key,
    what: `Python connector process ${join(type, `${type}_connector.py`)}`,
  };
  ctx.log.info(`runs as a Python gRPC process: ${python} ${script} (useGRPCForce)`);
  return new ForcedGrpcConnector(server, key, registrationConfiguration(fileName, content), ctx, supervised);
}

export class ForcedGrpcConnector extends GrpcConnector {
  private readonly process: ProcessSupervisor;

  constructor(server: GrpcServer, key: string, configuration: string, ctx: ConnectorContext, supervised: SupervisorOptions) {
    super(server, key, configuration, ctx);
    this.process = new ProcessSupervisor({ ...supervised, onExit: (why) => this.processEnded(why) });
  }

  /** Its process is gone for sure: free the key for the next one and disconnect the devices it had (it announces them again). */
  private processEnded(why: string): void {
    this.server.release(this);
    const names = [...this.devices.keys()];
    this.devices.clear();
    if (names.length) this.ctx.log.info(`the connector process ${why}: disconnecting its ${names.length} device(s) until the next process sends their data`);
    for (const n of names) this.ctx.delDevice(n);
  }

  /** PID of the running Python process (tests, status). */
  get pid(): number | undefined {
    return this.process.pid;
  }

  override async start(): Promise<void> {
    await super.start();
    this.process.start();
  }

  override async stop(): Promise<void> {
    // the process first: told to unregister, it would only try to register again
    await this.process.stop();
    await super.stop();
  }
}

function launchKey(json: string | undefined): string | undefined {
  try {
    const k = (JSON.parse(json ?? "") as { grpc_key?: unknown }).grpc_key;
    return typeof k === "string" ? k : undefined;
  } catch {
    return undefined;
  }
}
