/**
 * @module The training runs API: create a run from a spec pinned to dataset version hashes, list runs, read
 * one with its metrics, checkpoints and exports, cancel, resume, and export a checkpoint as a servable model.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { ErrorBody } from "@sovereign/http";
import { TrainingRunSpec } from "@sovereign/schemas";
import type { TrainerApp } from "../context";
import { EXPORT_DTYPES } from "../export";

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
    tokenizer: z.object({ id: z.string(), sha256: z.string() }).nullable().openapi({
      description:
        "The tokenizer its data is tokenized with: its model folder's own tokenizer.json, else Qwen3's; the SHA-256 of tokenizer.json followed by tokenizer_config.json",
    }),
    progress: z.unknown(),
    error: z.string().nullable(),
    attempts: z.number().int(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi("TrainingRun");
const FileEntry = z.object({ name: z.string(), sha256: z.string(), bytes: z.number().int() });
const ModelExport = z
  .object({
    run: z.string(),
    step: z.number().int(),
    dir: z.string().openapi({ description: "The folder on the trainer's machine that holds the model" }),
    dtype: z.enum(EXPORT_DTYPES),
    files: z.array(FileEntry),
    hub: z.object({ repo: z.string(), commit: z.string() }).nullable().openapi({
      description: "The Hub model repo and commit it was last pushed to (`trainer export --push`)",
    }),
    createdAt: z.string(),
  })
  .openapi("ModelExport");
const ExportRequest = z
  .strictObject({
    step: z
      .number()
      .int()
      .positive()
      .optional()
      .openapi({ description: "The checkpoint's step; default the run's last checkpoint" }),
    dtype: z.enum(EXPORT_DTYPES).optional().openapi({ description: "The weights' dtype; default bfloat16" }),
    dir: z
      .unknown()
      .refine((v) => v === undefined, {
        message:
          "an export over HTTP goes to the trainer's own folder (TRAINER_DATA_DIR/exports/<run>/step-<k>); `trainer export <run> [step] <dir>` writes elsewhere",
      })
      .optional()
      .openapi({ description: "Not accepted: a caller names no path on the server" }),
  })
  .openapi("ExportRequest");
const RunDetail = RunSummary.extend({
  spec: z.unknown(),
  logTail: z.string().nullable(),
  checkpoints: z.array(
    z.object({
      step: z.number().int(),
      path: z.string(),
      files: z.array(FileEntry),
      createdAt: z.string(),
    }),
  ),
  exports: z.array(ModelExport),
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

const exportRun = createRoute({
  method: "post",
  path: "/v1/training/runs/{id}/export",
  tags: ["training"],
  summary: "Export a checkpoint as a servable model (Hugging Face format) under the trainer's export folder",
  description:
    "Weights, config, a generation config with the tokenizer's stop ids, and the tokenizer files, written to TRAINER_DATA_DIR/exports/<run>/step-<k>[-<dtype>] and recorded. A checkpoint exported before is answered from its record (200).",
  request: {
    params: RunId,
    body: { content: { "application/json": { schema: ExportRequest } }, required: false },
  },
  responses: {
    201: { description: "Exported", content: { "application/json": { schema: ModelExport } } },
    200: { description: "Exported before", content: { "application/json": { schema: ModelExport } } },
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
  app.openapi(exportRun, async (c) => {
    const { step, dtype } = c.req.valid("json") ?? {};
    const done = await c
      .get("exporter")
      .export(c.req.valid("param").id, { ...(step ? { step } : {}), ...(dtype ? { dtype } : {}) });
    return c.json(done.export, done.created ? 201 : 200);
  });
  app.openapi(resumeRun, async (c) => {
    const run = await c.get("runs").resume(c.req.valid("param").id);
    void c.get("supervisor").poll();
    return c.json(run, 200);
  });
}
