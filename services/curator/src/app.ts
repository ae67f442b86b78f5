/**
 * @module The curator HTTP app factory: request ids, request logs, one error shape, zod validation that
 * names the field, the OpenAPI document at /openapi.json and its reference page at /docs.
 */
import { Scalar } from "@scalar/hono-api-reference";
import { createServiceApp } from "@sovereign/http";
import type { App, AppEnv } from "./context";
import type { Logger } from "./logger";
import type { Registry } from "./registry";
import { registerDatasetRoutes } from "./routes/datasets";
import { registerFileRoutes } from "./routes/files";
import { registerHealthRoutes } from "./routes/health";
import { registerRejectedRoutes } from "./routes/rejected";
import { registerRunRoutes } from "./routes/runs";
import { registerSampleRoutes } from "./routes/samples";
import { registerUploadRoutes } from "./routes/uploads";
import { registerVersionRoutes } from "./routes/versions";
import type { RunManager } from "./runs";
import type { UploadStore } from "./uploads";

export type AppDeps = {
  registry: Registry;
  runs: RunManager;
  uploads: UploadStore;
  logger: Logger;
  database: { kind: string; location: string };
};

export { describeValidation } from "@sovereign/http";

export function createApp(deps: AppDeps): App {
  const app: App = createServiceApp<AppEnv>({
    logger: deps.logger,
    context: (set) => {
      set("registry", deps.registry);
      set("runs", deps.runs);
      set("uploads", deps.uploads);
    },
  });

  registerHealthRoutes(app, deps.database);
  registerDatasetRoutes(app);
  registerUploadRoutes(app);
  registerVersionRoutes(app);
  registerFileRoutes(app);
  registerSampleRoutes(app);
  registerRejectedRoutes(app);
  registerRunRoutes(app);

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Curator API",
      version: "0.1.0",
      description:
        "Datasets, content-addressed dataset versions (Parquet shards + manifest), uploads, shard downloads and sample browsing.",
    },
  });
  app.get("/docs", Scalar({ url: "/openapi.json", pageTitle: "Curator API" }));
  return app;
}
