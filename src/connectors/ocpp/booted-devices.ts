// The device each charge point id became at its last BootNotification, kept in the connector's data
// folder. Charge points boot on power-up, not when they reconnect: without this, every charge point
// would be nameless after a gateway restart until its next reboot (weeks), or until it answers a
// TriggerMessage (an optional OCPP profile). Boots are rare, so the file is rewritten whole, at most
// once a second (boots of many charge points at once cost one write), and at stop.

import { mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { replaceFile } from "../../common/fs/replace-file.ts";
import { errorText, type Logger } from "../../observe/logger.ts";

export interface Device {
  name: string;
  type: string;
}

const WRITE_DELAY_MS = 1000;

export class BootedDevices {
  private readonly devices = new Map<string, Device>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writeProblem = "";

  constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      return; // first run
    }
    try {
      const saved = JSON.parse(text) as Record<string, Device>;
      for (const [id, d] of Object.entries(saved)) if (typeof d?.name === "string" && typeof d.type === "string") this.devices.set(id, { name: d.name, type: d.type });
    } catch (e) {
      log.warn(`${file}: not readable (${errorText(e)}); charge points are known again as they boot`);
    }
  }

  get(id: string): Device | undefined {
    return this.devices.get(id);
  }

  set(id: string, device: Device): void {
    const was = this.devices.get(id);
    if (was && was.name === device.name && was.type === device.type) return;
    this.devices.set(id, device);
    this.timer ??= setTimeout(() => this.flush(), WRITE_DELAY_MS);
  }

  /** Write now if anything changed (at stop). */
  flush(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      replaceFile(this.file, JSON.stringify(Object.fromEntries(this.devices), null, 1));
      if (this.writeProblem) this.log.info(`${this.file} written again`);
      this.writeProblem = "";
    } catch (e) {
      const problem = errorText(e);
      if (problem !== this.writeProblem) this.log.error(`cannot write ${this.file}: ${problem}; charge points that reconnect after a restart will need to boot again`);
      this.writeProblem = problem;
    }
  }
}
