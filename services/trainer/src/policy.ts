/**
 * @module Who may call which trainer route. Every route the app registers has a rule here (the access test
 * checks it); a route without one is refused. Roles: `admin` everything; `pipeline`, the service account that
 * runs jobs, starts, cancels, resumes and exports training runs; `curator` and `trainer` read runs, their
 * metrics and checkpoints. The engine protocol is not for people: each of its calls carries the run's own engine token,
 * issued to the engine the supervisor started, and its routes check that token themselves.
 */
import type { AccessPolicy, Role } from "@sovereign/http";

const launchers: Role[] = ["admin", "pipeline"];
const readers: Role[] = ["admin", "pipeline", "curator", "trainer"];
/** Checked by the route against the run's engine token (routes/engine.ts), not by role. */
const engine = { roles: "public" } as const;

export const trainerPolicy: AccessPolicy = {
  "GET /health": { roles: "public" },
  "GET /openapi.json": { roles: "public" },

  "POST /v1/training/runs": { roles: launchers, action: "training.create" },
  "GET /v1/training/runs": { roles: readers },
  "GET /v1/training/runs/:id": { roles: readers },
  "POST /v1/training/runs/:id/cancel": { roles: launchers, action: "training.cancel" },
  "POST /v1/training/runs/:id/resume": { roles: launchers, action: "training.resume" },
  "POST /v1/training/runs/:id/export": { roles: launchers, action: "training.export" },

  "GET /v1/engine/runs/:id/config": engine,
  "GET /v1/engine/runs/:id/batches/:step": engine,
  "POST /v1/engine/runs/:id/rollouts": engine,
  "POST /v1/engine/runs/:id/turns": engine,
  "POST /v1/engine/runs/:id/metrics": engine,
  "POST /v1/engine/runs/:id/checkpoints": engine,
  "POST /v1/engine/runs/:id/status": engine,
};

/** The engine routes, whose own token check the access test exercises. */
export const engineRoutes = Object.keys(trainerPolicy).filter((k) => k.includes(" /v1/engine/"));
