/** @module API tokens (create, shown once; list; revoke) and the audit log, for admins. */
import { createRoute, z } from "@hono/zod-openapi";
import { ROLES } from "@sovereign/http";
import type { App } from "../context";
import { commonErrors, json } from "./common";

const Role = z.enum(ROLES);
const TokenInfo = z
  .object({
    id: z.string(),
    name: z.string(),
    role: Role,
    createdBy: z.string().nullable(),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
    lastUsedAt: z.string().nullable(),
  })
  .openapi("TokenInfo");

const create = createRoute({
  method: "post",
  path: "/v1/tokens",
  tags: ["access"],
  description:
    "A new API token of one role. The `token` is in this answer only: the server keeps its sha256.",
  request: {
    body: {
      content: {
        "application/json": {
          schema: z.strictObject({ name: z.string().trim().min(1).max(200), role: Role }),
        },
      },
      required: true,
    },
  },
  responses: { 201: json(TokenInfo.extend({ token: z.string() }), "The token, shown once"), ...commonErrors },
});

const list = createRoute({
  method: "get",
  path: "/v1/tokens",
  tags: ["access"],
  responses: { 200: json(z.object({ items: z.array(TokenInfo) }), "Tokens, newest first"), ...commonErrors },
});

const revoke = createRoute({
  method: "delete",
  path: "/v1/tokens/{id}",
  tags: ["access"],
  request: { params: z.object({ id: z.uuid() }) },
  responses: { 200: json(TokenInfo, "The token, revoked"), ...commonErrors },
});

const audit = createRoute({
  method: "get",
  path: "/v1/audit",
  tags: ["access"],
  description: "Who did what: newest first, optionally one action or one token's.",
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      action: z.string().optional(),
      token: z.uuid().optional(),
    }),
  },
  responses: {
    200: json(
      z.object({
        items: z.array(
          z.object({
            id: z.number(),
            at: z.string(),
            tokenId: z.string().nullable(),
            actor: z.string(),
            action: z.string(),
            target: z.record(z.string(), z.string()),
            requestId: z.string().nullable(),
          }),
        ),
      }),
      "Audit entries",
    ),
    ...commonErrors,
  },
});

export function registerAccessRoutes(app: App) {
  app.openapi(create, async (c) => {
    const body = c.req.valid("json");
    const principal = c.get("principal");
    return c.json(
      await c.get("access").createToken({ ...body, ...(principal ? { createdBy: principal } : {}) }),
      201,
    );
  });
  app.openapi(list, async (c) => c.json({ items: await c.get("access").listTokens() }, 200));
  app.openapi(revoke, async (c) =>
    c.json(await c.get("access").revokeToken(c.req.valid("param").id, c.get("principal")), 200),
  );
  app.openapi(audit, async (c) => {
    const q = c.req.valid("query");
    const items = await c.get("access").audit({
      limit: q.limit,
      ...(q.action ? { action: q.action } : {}),
      ...(q.token ? { tokenId: q.token } : {}),
    });
    return c.json({ items }, 200);
  });
}
