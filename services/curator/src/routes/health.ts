/**
 * @module GET /health: public, so it says only whether the curator can serve (its database answers), never
 * which database it runs on or where.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { checkHealth } from "@sovereign/http";
import type { App } from "../context";
import { errorResponse } from "./common";

const route = createRoute({
  method: "get",
  path: "/health",
  tags: ["health"],
  responses: {
    200: {
      description: "The service is up and its database answers",
      content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
    },
    503: errorResponse("The database does not answer"),
  },
});

export function registerHealthRoutes(app: App, probe: () => Promise<unknown>) {
  app.openapi(route, async (c) => {
    await checkHealth(probe, c.get("logger"));
    return c.json({ status: "ok" as const }, 200);
  });
}
