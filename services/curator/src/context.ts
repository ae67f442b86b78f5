/** @module The typed Hono context every route sees: the registry, uploads, a request-scoped logger. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AccessControl } from "@sovereign/access";
import type { Principal } from "@sovereign/http";
import type { CuratorConfig } from "./config";
import type { Logger } from "./logger";
import type { Registry } from "./registry";
import type { ReviewQueues } from "./review";
import type { RunManager } from "./runs";
import type { UploadStore } from "./uploads";

export type AppEnv = {
  Variables: {
    registry: Registry;
    runs: RunManager;
    uploads: UploadStore;
    logger: Logger;
    requestId: string;
    access: AccessControl;
    reviews: ReviewQueues;
    config: CuratorConfig;
    /** The caller, when access control is on (or a token was checked). */
    principal: Principal | undefined;
  };
};

export type App = OpenAPIHono<AppEnv>;
