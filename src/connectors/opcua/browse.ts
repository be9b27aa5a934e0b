// Browsing the server's address space: children of a node (following continuation points), path
// resolution by browse name (with a cache per session), node-id parsing. Shared by the connector
// and `tb-gw scan opcua`.

import {
  BrowseDirection,
  NodeClassMask,
  coerceNodeId,
  resolveNodeId,
  type ClientSession,
  type NodeId,
  type ReferenceDescription,
} from "node-opcua-client";
import { segmentMatches, type NodeRef, type PathSegment } from "./paths.ts";

export const ROOT = "i=84";

export interface Child {
  nodeId: NodeId;
  nsIndex: number;
  name: string;
  nodeClass: number;
}

function toChild(r: ReferenceDescription): Child {
  return { nodeId: r.nodeId as unknown as NodeId, nsIndex: r.browseName.namespaceIndex, name: r.browseName.name ?? "", nodeClass: r.nodeClass };
}

export class Browser {
  private children = new Map<string, Promise<Child[]>>();

  constructor(private readonly session: ClientSession) {}

  /** Forget cached children (on re-scan, so new nodes are found). */
  clear(): void {
    this.children.clear();
  }

  /** Forward hierarchical children of a node, all pages. */
  childrenOf(nodeId: NodeId | string): Promise<Child[]> {
    const key = nodeId.toString();
    let p = this.children.get(key);
    if (!p) {
      p = this.fetchChildren(nodeId);
      this.children.set(key, p);
      p.catch(() => this.children.delete(key));
    }
    return p;
  }

  private async fetchChildren(nodeId: NodeId | string): Promise<Child[]> {
    const out: Child[] = [];
    let res = await this.session.browse({
      nodeId: typeof nodeId === "string" ? coerceNodeId(nodeId) : nodeId,
      browseDirection: BrowseDirection.Forward,
      referenceTypeId: resolveNodeId("HierarchicalReferences"),
      includeSubtypes: true,
      nodeClassMask: NodeClassMask.Object | NodeClassMask.Variable | NodeClassMask.Method,
      resultMask: 63,
    });
    for (;;) {
      if (res.statusCode.isNotGood()) throw new Error(`browse ${nodeId.toString()}: ${res.statusCode.name}`);
      for (const r of res.references ?? []) out.push(toChild(r));
      const cp = res.continuationPoint;
      if (!cp || cp.length === 0) break;
      res = await this.session.browseNext(cp, false);
    }
    return out;
  }

  /** All nodes matching a path of segments from `start` (several when segments are patterns). */
  async resolveSegments(start: NodeId | string, segments: PathSegment[]): Promise<NodeId[]> {
    let current: Array<NodeId | string> = [start];
    for (const seg of segments) {
      const next: NodeId[] = [];
      for (const node of current) {
        for (const c of await this.childrenOf(node)) if (segmentMatches(seg, c.nsIndex, c.name)) next.push(c.nodeId);
      }
      if (next.length === 0) return [];
      current = next;
    }
    return current.map((n) => (typeof n === "string" ? coerceNodeId(n) : n));
  }

  /** First node a reference points at (relative ones from `base`), or undefined. */
  async resolve(ref: NodeRef, base?: NodeId): Promise<NodeId | undefined> {
    if (ref.kind === "nodeId") return coerceNodeId(ref.nodeId);
    if (ref.kind === "absolute") return (await this.resolveSegments(ROOT, ref.segments))[0];
    if (!base) return undefined;
    return (await this.resolveSegments(base, ref.segments))[0];
  }
}
