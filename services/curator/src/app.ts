/**
 * @module The curator HTTP app factory: request ids, request logs, one error shape, zod validation that
 * names the field, the OpenAPI document at /openapi.json and its reference page at /docs.
 */
import { Scalar } from "@scalar/hono-api-reference";
import type { AccessControl } from "@sovereign/access";
import { createServiceApp } from "@sovereign/http";
import type { Context } from "hono";
import type { CuratorConfig } from "./config";
import type { App, AppEnv } from "./context";
import type { Logger } from "./logger";
import { curatorPolicy } from "./policy";
import type { Registry } from "./registry";
import { refuseUnstorableText } from "./request-text";
import type { ReviewQueues } from "./review";
import { registerAccessRoutes } from "./routes/access";
import { registerDatasetRoutes } from "./routes/datasets";
import { registerFileRoutes } from "./routes/files";
import { registerHealthRoutes } from "./routes/health";
import { registerRejectedRoutes } from "./routes/rejected";
import { registerReviewRoutes } from "./routes/review";
import { registerRunRoutes } from "./routes/runs";
import { registerSampleRoutes } from "./routes/samples";
import { registerUploadRoutes } from "./routes/uploads";
import { registerVersionRoutes } from "./routes/versions";
import type { RunManager } from "./runs";
import type { UploadStore } from "./uploads";
import { PAGE_HEADERS } from "./web/layout";
import { errorPage, isPagePath, registerReviewPages, SESSION_COOKIE } from "./web/pages";

export type AppDeps = {
  registry: Registry;
  runs: RunManager;
  uploads: UploadStore;
  logger: Logger;
  /** Resolves when the database answers (`SELECT 1`), for /health. */
  probeDatabase(): Promise<unknown>;
  access: AccessControl;
  reviews: ReviewQueues;
  config: CuratorConfig;
  /** Ask for API tokens (CURATOR_AUTH=on). */
  auth: boolean;
};

export { describeValidation } from "@sovereign/http";

/** Uploads stream to disk under their own limit (CURATOR_MAX_UPLOAD_BYTES), and are never parsed here. */
const isUpload = (c: Context) => c.req.method === "POST" && c.req.path === "/v1/uploads";

export function createApp(deps: AppDeps): App {
  const app: App = createServiceApp<AppEnv>({
    logger: deps.logger,
    maxBodyBytes: deps.config.maxBodyBytes,
    maxBodyHint: "CURATOR_MAX_BODY_BYTES",
    unlimitedBody: isUpload,
    renderError: (c, error) => (isPagePath(c.req.path) ? errorPage(c, error) : undefined),
    context: (set) => {
      set("registry", deps.registry);
      set("runs", deps.runs);
      set("uploads", deps.uploads);
      set("access", deps.access);
      set("reviews", deps.reviews);
      set("config", deps.config);
    },
  });
  // The review pages' security headers, on every answer under /review: its error pages too, those of the
  // access check below included.
  app.use(async (c, next) => {
    await next();
    if (isPagePath(c.req.path))
      for (const [name, value] of Object.entries(PAGE_HEADERS)) c.res.headers.set(name, value);
  });
  // Before every route: the caller's token and role against the route's rule (policy.ts).
  app.use(
    deps.access.middleware<AppEnv>({
      policy: curatorPolicy,
      enabled: deps.auth,
      pages: { cookie: SESSION_COOKIE, signIn: "/review/sign-in" },
    }),
  );
  app.use(refuseUnstorableText({ skipBody: isUpload }));

  registerHealthRoutes(app, deps.probeDatabase);
  registerDatasetRoutes(app);
  registerUploadRoutes(app);
  registerVersionRoutes(app);
  registerFileRoutes(app);
  registerSampleRoutes(app);
  registerRejectedRoutes(app);
  registerRunRoutes(app);
  registerAccessRoutes(app);
  registerReviewRoutes(app);
  registerReviewPages(app, {
    auth: deps.auth,
    publicUrl: deps.config.publicUrl,
    sessionHours: deps.config.sessionHours,
  });

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    security: [{ bearer: [] }],
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
