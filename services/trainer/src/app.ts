/** @module The trainer HTTP app: the training runs API, the engine protocol, and the OpenAPI document. */
import type { AccessControl } from "@sovereign/access";
import { checkHealth, createServiceApp } from "@sovereign/http";
import type { Logger } from "pino";
import type { TrainerConfig } from "./config";
import type { TrainerApp, TrainerEnv } from "./context";
import type { DataPlane } from "./data-plane";
import type { Exporter } from "./export";
import { trainerPolicy } from "./policy";
import type { RolloutScorer } from "./rollouts";
import { registerEngineRoutes } from "./routes/engine";
import { registerRunRoutes } from "./routes/runs";
import type { TrainingRuns } from "./runs";
import type { Supervisor } from "./supervisor";

export type TrainerDeps = {
  config: TrainerConfig;
  access: AccessControl;
  runs: TrainingRuns;
  supervisor: Supervisor;
  data: DataPlane;
  exporter: Exporter;
  rollouts: RolloutScorer;
  logger: Logger;
  /** Resolves when the database answers (`SELECT 1`), for /health. */
  probeDatabase(): Promise<unknown>;
};

export function createTrainerApp(deps: TrainerDeps): TrainerApp {
  const app: TrainerApp = createServiceApp<TrainerEnv>({
    logger: deps.logger,
    context: (set) => {
      set("config", deps.config);
      set("runs", deps.runs);
      set("supervisor", deps.supervisor);
      set("data", deps.data);
      set("exporter", deps.exporter);
      set("rollouts", deps.rollouts);
    },
  });
  // Before every route: the caller's token and role against the route's rule (policy.ts).
  app.use(deps.access.middleware<TrainerEnv>({ policy: trainerPolicy, enabled: deps.config.auth }));
  app.get("/health", async (c) => {
    await checkHealth(deps.probeDatabase, c.get("logger"));
    return c.json({ status: "ok" });
  });
  registerRunRoutes(app);
  registerEngineRoutes(app);
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    security: [{ bearer: [] }],
    info: {
      title: "Trainer API",
      version: "0.1.0",
      description:
        "Training runs pinned to dataset version hashes (SFT, on-policy distillation, GRPO, InK-GRPO), their metrics and checkpoints.",
    },
  });
  return app;
}
