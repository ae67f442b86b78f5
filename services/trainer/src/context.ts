/** @module The typed Hono context every trainer route sees. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Principal, ServiceEnv } from "@sovereign/http";
import type { TrainerConfig } from "./config";
import type { DataPlane } from "./data-plane";
import type { Exporter } from "./export";
import type { RolloutScorer } from "./rollouts";
import type { TrainingRuns } from "./runs";
import type { Supervisor } from "./supervisor";

export type TrainerEnv = {
  Variables: ServiceEnv["Variables"] & {
    config: TrainerConfig;
    runs: TrainingRuns;
    supervisor: Supervisor;
    data: DataPlane;
    exporter: Exporter;
    rollouts: RolloutScorer;
    /** The caller, when access control is on. */
    principal: Principal | undefined;
  };
};

export type TrainerApp = OpenAPIHono<TrainerEnv>;
