// The KNX bus through a KNXnet/IP interface (knxultimate does the KNXnet/IP framing, tunnelling
// handshakes, ACKs and heartbeats). This adds what the connector needs on top: connect with a
// deadline, reconnect after a lost tunnel, GroupValueRead as a promise that the answer resolves
// (reads of one address in flight at once share one telegram), and every group value seen on the
// bus handed to one listener.

import { createSocket } from "node:dgram";
import { KNXClient } from "knxultimate";
import type { KnxPayload } from "./dpt.ts";
import { parseGroupAddress, type GroupAddress } from "./address.ts";

export interface BusOptions {
  /** tunnel (UDP), tunnelTcp, or routing (multicast). */
  mode: "tunnel" | "tunnelTcp" | "routing";
  /** Interface address (tunnel) or multicast group (routing). */
  host: string;
  port: number;
  /** Local address for the tunnel's return path; absent: the library picks an interface. */
  localIp?: string;
  /** Our individual address (routing: the source of what we send; telegrams from it are our own, looped back). */
  individualAddress?: string;
  /** Least ms between two KNXnet/IP frames we send (0: as fast as the interface ACKs them). */
  sendIntervalMs: number;
  connectTimeoutMs: number;
}

/** A group telegram seen on the bus: a GroupValueWrite or GroupValueResponse with its payload. */
export interface GroupValue {
  address: number;
  kind: "write" | "response";
  data: Buffer;
}

interface PendingRead {
  promise: Promise<Buffer>;
  resolve(data: Buffer): void;
}

/** Loose view of the library's indication packet (its d.ts types the cEMI as the base class). */
interface Indication {
  cEMIMessage?: {
    srcAddress?: { toString(): string };
    dstAddress?: { get?(): number; toString(): string };
    npdu?: { isGroupWrite?: boolean; isGroupResponse?: boolean; dataValue?: Buffer | null };
  };
}

export class KnxBus {
  private client?: KNXClient;
  private pending = new Map<number, PendingRead>();
  private connected = false;
  private closed = false;

  constructor(
    private readonly opts: BusOptions,
    private readonly onValue: (v: GroupValue) => void,
    private readonly onDisconnect: (reason: string) => void,
  ) {}

  /** The local address the connection uses (tunnel's return end, or the routing interface's); undefined before connecting or when knxultimate picked it. */
  localAddress?: string;

  get isConnected(): boolean {
    return this.connected;
  }

  /** Open the tunnel (or join the multicast group); rejects with the reason when it does not come up. */
  async connect(): Promise<void> {
    this.dropClient();
    const o = this.opts;
    // Tunnel: the address the interface sends the tunnel back to. Routing: the interface whose
    // address joins the multicast group and sends to it. Either way, unless configured, the one the
    // kernel routes from toward the interface or group, not knxultimate's own pick (see below).
    const localIp = o.localIp ?? (await sourceAddressToward(o.host, o.port));
    this.localAddress = localIp;
    const client = new KNXClient({
      hostProtocol: o.mode === "routing" ? "Multicast" : o.mode === "tunnelTcp" ? "TunnelTCP" : "TunnelUDP",
      ipAddr: o.host,
      ipPort: o.port,
      localIPAddress: o.localIp ?? "",
      physAddr: o.individualAddress ?? "",
      KNXQueueSendIntervalMilliseconds: Math.max(20, o.sendIntervalMs),
      loglevel: "error",
    } as ConstructorParameters<typeof KNXClient>[0], (c) => {
      // knxultimate's constructor replaces localIPAddress with its own pick of a network interface
      // (the best-scored "physical" one, never a link-local 169.254 one), so a configured localIp was
      // ignored and the tunnel could be bound to (and advertise) an address of another network, and
      // routing could join and send multicast on another interface than the one toward the KNX/IP
      // routers. Put ours back before it creates and binds the socket (the hook replaces that call).
      const own = c as unknown as { _options: { localIPAddress: string }; createSocket(): void };
      if (localIp) own._options.localIPAddress = localIp;
      own.createSocket();
    });
    silence(client);
    unpace(client, o.sendIntervalMs);
    this.client = client;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`no answer from the KNX/IP interface ${o.host}:${o.port} within ${o.connectTimeoutMs / 1000} s`)), o.connectTimeoutMs);
      let settled = false;
      const done = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.off("connected", onConnected);
        client.off("error", onError);
        if (err) {
          this.dropClient();
          reject(err);
        } else resolve();
      };
      // Routing: knxultimate says "connected" as soon as its socket listens, and only then, in the
      // same turn, joins the multicast group, reporting a failed join (no interface with localIp)
      // as an error. Wait a turn so such a failure fails this connection instead of leaving a
      // socket that hears nothing.
      const onConnected = () => (o.mode === "routing" ? setImmediate(() => done()) : done());
      const onError = (e: Error) =>
        done(
          new Error(
            o.mode === "routing"
              ? `joining the KNX multicast group ${o.host}:${o.port} on ${localIp ?? "the interface knxultimate picked"}: ${e?.message || String(e)} (client.localIp must be an address of this machine's interface toward the KNX/IP routers)`
              : `connecting to ${o.host}:${o.port}: ${e?.message || String(e)}`,
          ),
        );
      client.on("connected", onConnected);
      client.on("error", onError);
      try {
        client.Connect();
      } catch (e) {
        done(e instanceof Error ? e : new Error(String(e)));
      }
    });
    this.connected = true;
    client.on("indication", (packet, echoed) => {
      if (echoed) return;
      // Routing: knxultimate turns on multicast loopback (so a knxd on this machine hears us), which
      // brings our own ROUTING_INDICATIONs back as if from the bus: those carry our address as source.
      if (o.mode === "routing" && sourceOf(packet as unknown as Indication) === o.individualAddress) return;
      this.indication(packet as unknown as Indication);
    });
    client.on("disconnected", (reason) => this.lost(client, `tunnel closed: ${reason || "by the interface"}`));
    client.on("error", (e) => {
      // After connecting, the library reports here a request the interface did not ACK three times
      // (the interface restarted or forgot our channel; its heartbeat would notice only within 60 s)
      // and socket failures: both end this tunnel, and the connector opens a new one.
      const text = e?.message ?? String(e);
      // Routing: a multicast join that failed (no such interface address) ends it the same way.
      if (/acknowledge|socket|membership|ECONN|EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL|ENODEV/i.test(text)) this.lost(client, text);
    });
  }

  private lost(client: KNXClient, reason: string): void {
    if (client !== this.client || !this.connected) return;
    this.connected = false;
    this.dropClient();
    if (!this.closed) this.onDisconnect(reason);
  }

  private indication(packet: Indication): void {
    const cemi = packet.cEMIMessage;
    const npdu = cemi?.npdu;
    if (!cemi?.dstAddress || !npdu || !(npdu.isGroupWrite || npdu.isGroupResponse)) return;
    const address = typeof cemi.dstAddress.get === "function" ? cemi.dstAddress.get() : addressOf(cemi.dstAddress.toString());
    const data = Buffer.from(npdu.dataValue ?? []);
    const waiting = this.pending.get(address);
    if (waiting) {
      // The answer to our read: the poll that asked reports it.
      this.pending.delete(address);
      waiting.resolve(data);
      return;
    }
    this.onValue({ address, kind: npdu.isGroupResponse ? "response" : "write", data });
  }

  /**
   * GroupValueRead; resolves with the payload of the first GroupValueResponse (or Write) to the
   * address, rejects after `timeoutMs`. A read of an address already being read joins that read.
   */
  read(ga: GroupAddress, timeoutMs: number): Promise<Buffer> {
    let entry = this.pending.get(ga.raw);
    if (!entry) {
      let resolve!: (d: Buffer) => void;
      const promise = new Promise<Buffer>((r) => (resolve = r));
      entry = { promise, resolve };
      this.pending.set(ga.raw, entry);
      try {
        this.requireClient().read(ga.text);
      } catch (e) {
        this.pending.delete(ga.raw);
        return Promise.reject(e);
      }
      const mine = entry;
      setTimeout(() => {
        if (this.pending.get(ga.raw) === mine) this.pending.delete(ga.raw);
      }, timeoutMs).unref?.();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      entry.promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new ReadTimeout(ga, timeoutMs)), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
  }

  /** GroupValueWrite. Queued by the library and sent at its pace. */
  write(ga: GroupAddress, payload: KnxPayload): void {
    this.requireClient().writeRaw(ga.text, payload.data, payload.bits ?? payload.data.length * 8);
  }

  private requireClient(): KNXClient {
    if (!this.client || !this.connected) throw new Error("KNX bus is not connected");
    return this.client;
  }

  private dropClient(): void {
    const c = this.client;
    this.client = undefined;
    this.connected = false;
    if (!c) return;
    c.removeAllListeners();
    c.on("error", () => {}); // late socket errors of a client we left
    c.Disconnect().catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.client;
    this.client = undefined;
    this.connected = false;
    if (!c) return;
    c.removeAllListeners();
    c.on("error", () => {});
    // DISCONNECT_REQUEST so the interface frees the tunnel now, not after its heartbeat timeout.
    await Promise.race([c.Disconnect().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
  }
}

export class ReadTimeout extends Error {
  constructor(ga: GroupAddress, ms: number) {
    super(`no answer to GroupValueRead of ${ga.text} within ${ms / 1000} s`);
  }
}

/** The telegram's individual source address as "area.line.device". */
function sourceOf(packet: Indication): string | undefined {
  return packet.cEMIMessage?.srcAddress?.toString();
}

function addressOf(text: string): number {
  const ga = parseGroupAddress(text);
  return typeof ga === "string" ? -1 : ga.raw;
}

/**
 * knxultimate waits at least 20 ms after every frame it sends, TUNNELING_ACKs included, which
 * capped the tunnel at ~50 telegrams in and ~25 out per second (measured, bench/knx.ts). Tunnelling
 * already has flow control (one request in flight until the interface ACKs it, which the library
 * keeps), and upstream's rateLimit 0 means unlimited, so the pause is set after construction, where
 * the library's floor does not apply. Reads the option each time it waits (checked in 5.4.0).
 */
function unpace(client: KNXClient, ms: number): void {
  const opts = (client as unknown as { _options?: { KNXQueueSendIntervalMilliseconds?: number } })._options;
  if (opts && typeof opts.KNXQueueSendIntervalMilliseconds === "number") opts.KNXQueueSendIntervalMilliseconds = ms;
}

/** The library logs to the console through winston; our own logger reports what matters. */
function silence(client: KNXClient): void {
  const logger = (client as unknown as { sysLogger?: { silent?: boolean; transports?: Array<{ silent?: boolean }> } }).sysLogger;
  if (!logger) return;
  logger.silent = true;
  for (const t of logger.transports ?? []) t.silent = true;
}

/**
 * The local address the kernel sends from toward host:port (its route's source), for the tunnel's
 * return address; undefined when there is no route (knxultimate then picks an interface itself).
 */
function sourceAddressToward(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    const done = (address?: string) => {
      socket.close();
      resolve(address);
    };
    socket.once("error", () => done());
    // connect() on UDP sends nothing: it only fixes the peer, and with it the route and source
    socket.connect(port, host, () => {
      try {
        done(socket.address().address);
      } catch {
        done();
      }
    });
  });
}
