// Turns a parsed expression into a tree of closures, once; evaluating is then calling the root with
// a fresh context. Names resolve at compile time to a comprehension slot, or to a lookup of the
// caller's variables (own keys only) falling back to the built-ins. There is no other source of
// values: no globals, no attributes, no JS objects.

import { BUILTINS } from "./builtins.ts";
import { ExpressionSyntaxError, fail } from "./errors.ts";
import { callMethod } from "./methods.ts";
import { binary, contains, index, iterate, slice, unary } from "./ops.ts";
import type { Node } from "./parser.ts";
import { Builtin, charge, checkSize, type Ctx, equal, fromJs, less, truthy, Tuple, typeName, type Value } from "./values.ts";

export type Fn = (ctx: Ctx) => Value;

export interface Compiled {
  root: Fn;
  slots: number;
  /** Free names that are not built-ins: the variables the expression expects. */
  names: string[];
}

export interface CompileOptions {
  /** When given, any other name (not a built-in) is an error at compile time. */
  variables?: readonly string[];
  /**
   * Keep Python's int/float apart across the boundary: a bigint variable is an int and a number is a
   * float even when integral (`25.0` stays a float), and every int result comes back as a bigint, so
   * `typeof` tells `value / 4` (float) from `value // 4` (int). Default: integral numbers are ints
   * and ints within ±2^53 come back as numbers.
   */
  exactNumbers?: boolean;
  /** Accept dict displays `{k: v}` (processing functions return dicts). Default: refused, as before. */
  dicts?: boolean;
}

function identical(a: Value, b: Value): boolean {
  return a === b;
}

function compare(op: string, a: Value, b: Value): boolean {
  switch (op) {
    case "==":
      return equal(a, b);
    case "!=":
      return !equal(a, b);
    case "<":
      return less(a, b, op);
    case ">":
      return less(b, a, op);
    case "<=":
      return equal(a, b) ? (less(a, b, op), true) : less(a, b, op);
    case ">=":
      return equal(a, b) ? (less(b, a, op), true) : less(b, a, op);
    case "in":
      return contains(b, a);
    case "not in":
      return !contains(b, a);
    case "is":
      return identical(a, b);
    default:
      return !identical(a, b);
  }
}

function lookup(ctx: Ctx, id: string): Value {
  let v = ctx.vars?.get(id);
  if (v !== undefined) return v;
  const s = ctx.scope;
  if (s instanceof Map ? s.has(id) : Object.hasOwn(s, id)) {
    v = fromJs(s instanceof Map ? s.get(id) : (s as Record<string, unknown>)[id], 0, ctx.exact);
    (ctx.vars ??= new Map()).set(id, v);
    return v;
  }
  const b = BUILTINS.get(id);
  return b ?? fail("NameError", `name '${id}' is not defined`);
}

export function compile(tree: Node, opts: CompileOptions = {}): Compiled {
  const frames: Array<Map<string, number>> = [];
  const names = new Set<string>();
  let slots = 0;
  const allowed = opts.variables ? new Set(opts.variables) : undefined;

  const c = (n: Node): Fn => {
    switch (n.t) {
      case "const": {
        const v = n.v;
        return () => v;
      }
      case "name": {
        for (let f = frames.length - 1; f >= 0; f--) {
          const slot = frames[f]!.get(n.id);
          if (slot !== undefined) return (ctx) => ctx.slots[slot]!;
        }
        if (allowed && !allowed.has(n.id) && !BUILTINS.has(n.id)) {
          const known = opts.variables!.length ? `; the variables here are ${opts.variables!.join(", ")}` : "";
          throw new ExpressionSyntaxError(`unknown name "${n.id}"${known}`, n.at, n.len);
        }
        if (!BUILTINS.has(n.id)) names.add(n.id);
        const id = n.id;
        return (ctx) => lookup(ctx, id);
      }
      case "list":
      case "tuple": {
        const items = n.items.map(c);
        const tuple = n.t === "tuple";
        return (ctx) => {
          charge(ctx, items.length);
          const out = items.map((f) => f(ctx));
          return tuple ? new Tuple(out) : out;
        };
      }
      case "unary": {
        const x = c(n.x);
        const op = n.op;
        return (ctx) => unary(op, x(ctx));
      }
      case "bin": {
        const l = c(n.l);
        const r = c(n.r);
        const op = n.op;
        return (ctx) => binary(ctx, op, l(ctx), r(ctx));
      }
      case "and":
      case "or": {
        const items = n.items.map(c);
        const stopOn = n.t === "or";
        return (ctx) => {
          let v: Value = null;
          for (const f of items) {
            v = f(ctx);
            if (truthy(v) === stopOn) return v;
          }
          return v;
        };
      }
      case "cmp": {
        const items = n.items.map(c);
        const ops = n.ops;
        return (ctx) => {
          let left = items[0]!(ctx);
          for (let i = 0; i < ops.length; i++) {
            const right = items[i + 1]!(ctx);
            if (!compare(ops[i]!, left, right)) return false;
            left = right;
          }
          return true;
        };
      }
      case "cond": {
        const test = c(n.test);
        const body = c(n.body);
        const orelse = c(n.orelse);
        return (ctx) => (truthy(test(ctx)) ? body(ctx) : orelse(ctx));
      }
      case "index": {
        const x = c(n.x);
        const i = c(n.i);
        return (ctx) => index(x(ctx), i(ctx));
      }
      case "slice": {
        const x = c(n.x);
        const lo = n.lo && c(n.lo);
        const hi = n.hi && c(n.hi);
        const step = n.step && c(n.step);
        return (ctx) => slice(ctx, x(ctx), lo?.(ctx), hi?.(ctx), step?.(ctx));
      }
      case "call": {
        const fn = c(n.fn);
        const args = n.args.map(c);
        const kwargs = n.kwargs.map(([k, v]) => [k, c(v)] as const);
        return (ctx) => {
          const f = fn(ctx);
          if (!(f instanceof Builtin)) return fail("TypeError", `'${typeName(f)}' object is not callable`);
          charge(ctx, 1);
          return f.call(ctx, args.map((a) => a(ctx)), new Map(kwargs.map(([k, v]) => [k, v(ctx)])));
        };
      }
      case "method": {
        const obj = c(n.obj);
        const args = n.args.map(c);
        const kwargs = n.kwargs.map(([k, v]) => [k, c(v)] as const);
        const name = n.name;
        return (ctx) => {
          const self = obj(ctx);
          charge(ctx, 1);
          return callMethod(ctx, self, name, args.map((a) => a(ctx)), new Map(kwargs.map(([k, v]) => [k, v(ctx)])));
        };
      }
      case "comp":
        return comprehension(n);
      case "dict": {
        const keys = n.keys.map(c);
        const values = n.values.map(c);
        return (ctx) => {
          charge(ctx, keys.length);
          const out = new Map<string, Value>();
          for (let i = 0; i < keys.length; i++) {
            const k = keys[i]!(ctx);
            // the dicts end as JSON objects, whose keys are text: other keys would change meaning silently
            if (typeof k !== "string") fail("TypeError", `dict keys must be str here, not ${typeName(k)} (the result becomes a JSON object)`);
            out.set(k as string, values[i]!(ctx));
          }
          return out;
        };
      }
    }
  };

  const comprehension = (n: Extract<Node, { t: "comp" }>): Fn => {
    // Each iterable sees the names bound by the generators before it (the first: none), as in Python.
    const compiled = n.gens.map((g) => {
      const iter = c(g.iter);
      const frame = new Map<string, number>();
      frames.push(frame);
      const targets = g.targets.map((t) => {
        const slot = slots++;
        frame.set(t.id, slot);
        return slot;
      });
      return { iter, conds: g.conds.map(c), targets, unpack: g.unpack };
    });
    const elt = c(n.elt);
    frames.length -= n.gens.length;
    return (ctx) => {
      const out: Value[] = [];
      const run = (gi: number): void => {
        if (gi === compiled.length) {
          out.push(elt(ctx));
          checkSize(out.length, "the list comprehension");
          return;
        }
        const g = compiled[gi]!;
        for (const item of iterate(ctx, g.iter(ctx))) {
          charge(ctx, 1);
          if (g.unpack) {
            const parts = iterate(ctx, item);
            if (parts.length !== g.targets.length) fail("ValueError", `cannot unpack ${parts.length} values into ${g.targets.length} names`);
            g.targets.forEach((slot, k) => (ctx.slots[slot] = parts[k]!));
          } else ctx.slots[g.targets[0]!] = item;
          if (g.conds.every((cond) => truthy(cond(ctx)))) run(gi + 1);
        }
      };
      run(0);
      return out;
    };
  };

  const root = c(tree);
  return { root, slots, names: [...names] };
}
