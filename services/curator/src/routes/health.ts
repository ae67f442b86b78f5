/** @module GET /health: liveness plus which database the service runs on. */
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../context";

const route = createRoute({
  method: "get",
  path: "/health",
  tags: ["health"],
  responses: {
    200: {
      description: "The service is up",
      content: {
        "application/json": {
          schema: z.object({
            status: z.literal("ok"),
            database: z.object({ kind: z.string(), location: z.string() }),
          }),
        },
      },
    },
  },
});

export function registerHealthRoutes(app: App, database: { kind: string; location: string }) {
  app.openapi(route, (c) => c.json({ status: "ok" as const, database }, 200));
}
