// Config pieces both HTTP connectors share: how an outgoing request authenticates, its headers
// (an object, or JSON text as upstream also accepts), and an incoming endpoint's security.

import { z } from "../../config/zod.ts";

export const opt = <T extends z.core.SomeType>(t: T, description: string) => z.optional(t).check(z.describe(description));

const lower = <T extends readonly [string, ...string[]]>(values: T) =>
  z.pipe(
    z.pipe(
      z.string().check(z.meta({ examples: [...values] })),
      z.transform((s: string) => s.toLowerCase()),
    ),
    z.enum(values),
  );

/** Security of an outgoing request: anonymous, basic (username/password) or cert (client certificate). */
export const ClientSecuritySchema = z
  .object({
    type: z._default(lower(["anonymous", "basic", "cert"]), "anonymous").check(z.describe("anonymous, basic or cert (client certificate); case-insensitive")),
    username: opt(z.string(), "basic: user name"),
    password: opt(z.string(), "basic: password"),
    cert: opt(z.string(), "cert: client certificate file (PEM), relative to the config folder"),
    key: opt(z.string(), "cert: private key file (PEM); absent = in the certificate file"),
  })
  .check(z.describe("How the gateway authenticates its request"));

/** Security of an endpoint the gateway serves: anonymous or HTTP Basic. */
export const EndpointSecuritySchema = z
  .object({
    type: z._default(lower(["anonymous", "basic"]), "anonymous").check(z.describe("anonymous or basic; case-insensitive")),
    username: opt(z.string(), "basic: the one user name this endpoint accepts"),
    password: opt(z.string(), "basic: its password"),
  })
  .check(
    z.refine((s) => s.type !== "basic" || (s.username !== undefined && s.password !== undefined), {
      message: 'security type "basic" needs username and password',
    }),
    z.describe("Who may call this endpoint"),
  );

/** Headers: an object, or the same as JSON text. */
export const HeadersSchema = z.pipe(
  z.union([z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])), z.string()]),
  z.transform((h: Record<string, string | number | boolean> | string, ctx) => {
    let obj: unknown = h;
    if (typeof h === "string") {
      try {
        obj = h.trim() === "" ? {} : JSON.parse(h);
      } catch {
        ctx.issues.push({ code: "custom", message: "httpHeaders text is not a JSON object", input: h });
        return {};
      }
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
      ctx.issues.push({ code: "custom", message: "httpHeaders must be an object of header → value", input: h });
      return {};
    }
    return Object.fromEntries(Object.entries(obj as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  }),
);

export type ClientSecurity = z.infer<typeof ClientSecuritySchema>;
export type EndpointSecurity = z.infer<typeof EndpointSecuritySchema>;
