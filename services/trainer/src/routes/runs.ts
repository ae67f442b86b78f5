/**
 * @module The training runs API: create a run from a spec pinned to dataset version hashes, list runs, read
 * one with its metrics and checkpoints, cancel and resume.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { ErrorBody } from "@sovereign/http";
import { TrainingRunSpec } from "@sovereign/schemas";
import type { TrainerApp } from "../context";

const RunId = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) });
const Status = z.enum(["queued", "running", "cancelling", "cancelled", "failed", "succeeded"]);
const RunSummary = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    stage: z.string(),
    status: Status,
    datasets: z.record(z.string(), z.string()),
    specHash: z.string(),
    progress: z.unknown(),
    error: z.string().nullable(),
    attempts: z.number().int(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi("TrainingRun");
const RunDetail = RunSummary.extend({
  spec: z.unknown(),
  logTail: z.string().nullable(),
  checkpoints: z.array(
    z.object({
      step: z.number().int(),
      path: z.string(),
      files: z.array(z.object({ name: z.string(), sha256: z.string(), bytes: z.number().int() })),
      createdAt: z.string(),
    }),
  ),
  metrics: z.array(
    z.object({ step: z.number().int(), rank: z.number().int(), metrics: z.record(z.string(), z.number()) }),
  ),
}).openapi("TrainingRunDetail");

const errors = {
  400: { description: "Invalid request", content: { "application/json": { schema: ErrorBody } } },
  404: { description: "No such run", content: { "application/json": { schema: ErrorBody } } },
  409: {
    description: "Not in a state that allows it",
    content: { "application/json": { schema: ErrorBody } },
  },
};

const createRun = createRoute({
  method: "post",
  path: "/v1/training/runs",
  tags: ["training"],
  summary: "Queue a training run pinned to dataset version hashes",
  request: { body: { content: { "application/json": { schema: TrainingRunSpec } }, required: true } },
  responses: {
    202: { description: "Queued", content: { "application/json": { schema: RunSummary } } },
    ...errors,
  },
});
const listRuns = createRoute({
  method: "get",
  path: "/v1/training/runs",
  tags: ["training"],
  request: {
    query: z.object({ status: Status.optional(), limit: z.coerce.number().int().min(1).max(500).optional() }),
  },
  responses: {
    200: {
      description: "Runs, newest first",
      content: { "application/json": { schema: z.object({ items: z.array(RunSummary) }) } },
    },
    ...errors,
  },
});
const getRun = createRoute({
  method: "get",
  path: "/v1/training/runs/{id}",
  tags: ["training"],
  request: { params: RunId },
  responses: {
    200: { description: "The run", content: { "application/json": { schema: RunDetail } } },
    ...errors,
  },
});
const cancelRun = createRoute({
  method: "post",
  path: "/v1/training/runs/{id}/cancel",
  tags: ["training"],
  request: { params: RunId },
  responses: {
    200: { description: "Cancelled or cancelling", content: { "application/json": { schema: RunSummary } } },
    ...errors,
  },
});
const resumeRun = createRoute({
  method: "post",
  path: "/v1/training/runs/{id}/resume",
  tags: ["training"],
  request: { params: RunId },
  responses: {
    200: { description: "Queued again", content: { "application/json": { schema: RunSummary } } },
    ...errors,
  },
});

export function registerRunRoutes(app: TrainerApp) {
  app.openapi(createRun, async (c) => {
    const run = await c.get("runs").create(c.req.valid("json"));
    void c.get("supervisor").poll();
    return c.json(run, 202);
  });
  app.openapi(listRuns, async (c) => {
    const { status, limit } = c.req.valid("query");
    return c.json(
      { items: await c.get("runs").list({ ...(status ? { status } : {}), ...(limit ? { limit } : {}) }) },
      200,
    );
  });
  app.openapi(getRun, async (c) => c.json(await c.get("runs").get(c.req.valid("param").id), 200));
  app.openapi(cancelRun, async (c) => {
    const run = await c.get("runs").cancel(c.req.valid("param").id);
    void c.get("supervisor").poll();
    return c.json(run, 200);
  });
  app.openapi(resumeRun, async (c) => {
    const run = await c.get("runs").resume(c.req.valid("param").id);
    void c.get("supervisor").poll();
    return c.json(run, 200);
  });
}
