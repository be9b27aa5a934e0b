// Minimal typings for the parts of net-snmp (plain JS, no bundled types) that tb-gw uses.
declare module "net-snmp" {
  export interface Varbind {
    oid: string;
    type?: number;
    value?: unknown;
  }
  export type Callback<T> = (error: Error | null, result: T) => void;
  export interface SessionOptions {
    port?: number;
    retries?: number;
    timeout?: number;
    transport?: "udp4" | "udp6";
    version?: number;
    idBitsSize?: 16 | 32;
    context?: string;
    backwardsGetNexts?: boolean;
  }
  export interface User {
    name: string;
    level: number;
    authProtocol?: number;
    authKey?: string;
    privProtocol?: number;
    privKey?: string;
  }
  export interface Session {
    get(oids: string[], cb: Callback<Varbind[]>): void;
    getNext(oids: string[], cb: Callback<Varbind[]>): void;
    getBulk(oids: string[], nonRepeaters: number, maxRepetitions: number, cb: Callback<Array<Varbind | Varbind[]>>): void;
    set(varbinds: Varbind[], cb: Callback<Varbind[]>): void;
    subtree(oid: string, maxRepetitions: number, feed: (v: Varbind[]) => boolean | void, done: (e: Error | null) => void): void;
    walk(oid: string, maxRepetitions: number, feed: (v: Varbind[]) => boolean | void, done: (e: Error | null) => void): void;
    close(): void;
    on(event: "error" | "close", l: (e?: Error) => void): void;
  }
  export function createSession(target: string, community: string, options?: SessionOptions): Session;
  export function createV3Session(target: string, user: User, options?: SessionOptions): Session;
  export function isVarbindError(v: Varbind): boolean;
  export function varbindError(v: Varbind): string;
  export const Version1: number;
  export const Version2c: number;
  export const Version3: number;
  export const ObjectType: Record<string, number>;
  export const SecurityLevel: Record<string, number>;
  export const AuthProtocols: Record<string, number>;
  export const PrivProtocols: Record<string, number>;
  export class RequestTimedOutError extends Error {}
  export class RequestFailedError extends Error {
    status: number;
  }
  const snmp: {
    createSession: typeof createSession;
    createV3Session: typeof createV3Session;
    isVarbindError: typeof isVarbindError;
    varbindError: typeof varbindError;
    Version1: number;
    Version2c: number;
    Version3: number;
    ObjectType: Record<string, number>;
    SecurityLevel: Record<string, number>;
    AuthProtocols: Record<string, number>;
    PrivProtocols: Record<string, number>;
    RequestTimedOutError: typeof RequestTimedOutError;
    RequestFailedError: typeof RequestFailedError;
  };
  export default snmp;
}
