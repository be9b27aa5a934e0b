// Types for the pieces of xmpp.js (installed with @xmpp/client, which ships no types) that
// session.ts assembles; only what it uses.

declare module "@xmpp/xml" {
  export interface Element {
    name: string;
    attrs: Record<string, string | undefined>;
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildText(name: string, xmlns?: string): string | null;
    toString(): string;
  }
  function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: Array<Element | string | undefined>): Element;
  export default xml;
}

declare module "@xmpp/client-core" {
  import type { EventEmitter } from "node:events";
  import type { Element } from "@xmpp/xml";
  export class Client extends EventEmitter {
    constructor(options: { service: string; domain: string; timeout?: number; lang?: string });
    transports: unknown[];
    status: string;
    jid: { toString(): string } | null;
    options: { domain: string; service: string };
    socket: { secure?: boolean } | null;
    isSecure(): boolean;
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    disconnect(): Promise<unknown>;
    send(element: Element): Promise<void>;
    restart(): Promise<unknown>;
    sendReceive(element: Element, timeout?: number): Promise<Element>;
    _attachSocket(socket: unknown): void;
  }
  export function jid(local: string, domain: string, resource?: string): { toString(): string };
}

declare module "@xmpp/connection-tcp" {
  export default class ConnectionTCP {
    socketParameters(service: string): Record<string, unknown> | undefined;
  }
}

declare module "@xmpp/tls/lib/Connection.js" {
  import ConnectionTCP from "@xmpp/connection-tcp";
  export default class ConnectionTLS extends ConnectionTCP {}
}

declare module "@xmpp/tls/lib/Socket.js" {
  import { EventEmitter } from "node:events";
  export default class Socket extends EventEmitter {
    connect(options: Record<string, unknown>): void;
    end(): void;
  }
}

declare module "@xmpp/tcp/lib/Connection.js" {
  import ConnectionTCP from "@xmpp/connection-tcp";
  export default class Connection extends ConnectionTCP {}
}

declare module "@xmpp/middleware" {
  import type { Client } from "@xmpp/client-core";
  export interface Middleware {
    use(fn: (ctx: { stanza: import("@xmpp/xml").Element; entity: Client }, next: () => Promise<unknown>) => unknown): unknown;
  }
  export default function middleware(opts: { entity: Client }): Middleware;
}

declare module "@xmpp/stream-features" {
  import type { Middleware } from "@xmpp/middleware";
  import type { Client } from "@xmpp/client-core";
  import type { Element } from "@xmpp/xml";
  export interface StreamFeatures {
    use(name: string, xmlns: string, handler: (ctx: { entity: Client; stanza: Element }, next: () => Promise<unknown>, feature: Element) => unknown): unknown;
  }
  export default function streamFeatures(opts: { middleware: Middleware }): StreamFeatures;
}

declare module "@xmpp/iq/caller.js" {
  import type { Client } from "@xmpp/client-core";
  import type { Middleware } from "@xmpp/middleware";
  import type { Element } from "@xmpp/xml";
  export interface IqCaller {
    get(child: Element, to?: string, timeout?: number): Promise<Element>;
    set(child: Element, to?: string, timeout?: number): Promise<Element>;
  }
  export default function iqCaller(opts: { middleware: Middleware; entity: Client }): IqCaller;
}

declare module "@xmpp/iq/callee.js" {
  import type { Client } from "@xmpp/client-core";
  import type { Middleware } from "@xmpp/middleware";
  export interface IqCallee {
    get(ns: string, name: string, handler: () => unknown): void;
  }
  export default function iqCallee(opts: { middleware: Middleware; entity: Client }): IqCallee;
}

declare module "@xmpp/sasl" {
  import type { StreamFeatures } from "@xmpp/stream-features";
  import type { Client } from "@xmpp/client-core";
  export default function sasl(
    opts: { streamFeatures: StreamFeatures; saslFactory: unknown },
    onAuthenticate: (done: (credentials: { username: string; password: string }, mechanism: string) => Promise<void>, mechanisms: string[], fast: unknown, entity: Client) => Promise<void>,
  ): void;
}

declare module "@xmpp/sasl-plain" {
  export default function plain(factory: unknown): void;
}

declare module "@xmpp/sasl-scram-sha-1" {
  export default function scramsha1(factory: unknown): void;
}

declare module "@xmpp/resource-binding" {
  import type { StreamFeatures } from "@xmpp/stream-features";
  import type { IqCaller } from "@xmpp/iq/caller.js";
  export default function resourceBinding(opts: { streamFeatures: StreamFeatures; iqCaller: IqCaller }, resource?: string): void;
}

declare module "@xmpp/events" {
  export function promise(target: unknown, event: string, rejectEvent?: string | null, timeout?: number): Promise<unknown>;
}

declare module "saslmechanisms" {
  export default class SASLFactory {}
}
