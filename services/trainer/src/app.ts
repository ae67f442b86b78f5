/** @module The trainer HTTP app: the training runs API, the engine protocol, and the OpenAPI document. */
import { createServiceApp } from "@sovereign/http";
import type { Logger } from "pino";
import type { TrainerConfig } from "./config";
import type { TrainerApp, TrainerEnv } from "./context";
import type { DataPlane } from "./data-plane";
import type { RolloutScorer } from "./rollouts";
import { registerEngineRoutes } from "./routes/engine";
import { registerRunRoutes } from "./routes/runs";
import type { TrainingRuns } from "./runs";
import type { Supervisor } from "./supervisor";

export type TrainerDeps = {
  config: TrainerConfig;
  runs: TrainingRuns;
  supervisor: Supervisor;
  data: DataPlane;
  rollouts: RolloutScorer;
  logger: Logger;
};

export function createTrainerApp(deps: TrainerDeps): TrainerApp {
  const app: TrainerApp = createServiceApp<TrainerEnv>({
    logger: deps.logger,
    context: (set) => {
      set("config", deps.config);
      set("runs", deps.runs);
      set("supervisor", deps.supervisor);
      set("data", deps.data);
      set("rollouts", deps.rollouts);
    },
  });
  app.get("/health", (c) => c.json({ status: "ok" }));
  registerRunRoutes(app);
  registerEngineRoutes(app);
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Trainer API",
      version: "0.1.0",
      description:
        "Training runs pinned to dataset version hashes (SFT, on-policy distillation, GRPO, InK-GRPO), their metrics and checkpoints.",
    },
  });
  return app;
}
