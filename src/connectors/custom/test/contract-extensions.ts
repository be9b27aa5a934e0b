// User modules for the custom connector tests, as source text written into a config folder's
// extensions/: one that works (data on open and on every attribute update, RPC answered later
// through gateway.sendRpcReply, shared attributes requested), and broken ones.

/** extensions/probe/probe.js: a plain JS module (no types) exercising the gateway object. */
export const PROBE = `
export class ProbeConnector {
  constructor(gateway, config, connectorType) {
    this.gateway = gateway; this.config = config; this.type = connectorType; this.stopped = true; this.timer = undefined;
  }
  async open() {
    this.stopped = false;
    const g = this.gateway;
    g.log.info("probe open, config path " + g.getConfigPath());
    await g.sendToStorage(this.getName(), this.config.id, {
      deviceName: "Probe1", deviceType: "probe",
      attributes: [{ connectorType: this.type }, { configName: this.config.name }, { idLength: this.config.id.length }],
      telemetry: [{ ts: 1700000000000, values: { started: 1 } }],
    });
    // the platform session may not be up yet at open: ask until it answers
    const ask = () => g.requestSharedAttributes("Probe1", ["limit"]).then(
      (shared) => g.sendToStorage(this.getName(), this.config.id, { deviceName: "Probe1", attributes: { sharedLimit: shared.limit } }),
      () => { if (!this.stopped) setTimeout(ask, 200); },
    );
    void ask();
    // keeps sending: shows the connector (and the gateway) still run next to broken ones
    let n = 0;
    this.timer = setInterval(() => void g.sendToStorage(this.getName(), this.config.id, { deviceName: "Probe1", telemetry: [{ beat: ++n }] }), 200);
  }
  close() { this.stopped = true; clearInterval(this.timer); }
  getName() { return this.config.name; }
  getType() { return this.type; }
  getConfig() { return this.config; }
  isConnected() { return !this.stopped; }
  isStopped() { return this.stopped; }
  onAttributesUpdate(content) {
    void this.gateway.sendToStorage(this.getName(), this.config.id, { deviceName: content.device, telemetry: [{ echoed: JSON.stringify(content.data) }] });
  }
  serverSideRpcHandler(content) {
    const { id, method, params } = content.data;
    if (content.device === undefined) return { connectorRpc: method, params };
    // answered later, the upstream way
    setTimeout(() => this.gateway.sendRpcReply(content.device, id, { op: method, doubled: params.x * 2 }), 50);
  }
}
`;

export const THROWS_IN_OPEN = `
export class ThrowingConnector {
  constructor(gateway, config) { this.config = config; }
  open() { throw new Error("the device is not plugged in"); }
  close() {}
}
`;

export const SYNTAX_ERROR = `export class BrokenConnector { open() { this is not javascript } }`;

/** Fails later, in its own callbacks: a thrown timer and a rejected promise nobody awaits. */
export const FAILS_LATER = `
export class LateConnector {
  constructor(gateway, config) { this.config = config; this.stopped = true; }
  open() {
    this.stopped = false;
    setTimeout(() => { throw new Error("late failure in a timer"); }, 300);
    setTimeout(() => { void Promise.reject(new Error("late rejection")); }, 400);
  }
  close() { this.stopped = true; }
  isStopped() { return this.stopped; }
}
`;
