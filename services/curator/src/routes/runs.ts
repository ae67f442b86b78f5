/** @module Pipelines and their runs: list the pipelines, queue a run, follow its progress, cancel or resume it. */
import { createRoute, z } from "@hono/zod-openapi";
import { api } from "@sovereign/schemas";
import { canonicalJson, sha256Hex } from "@sovereign/shards";
import type { App } from "../context";
import { commonErrors, errorResponse, json } from "./common";

const RunParams = z.object({ id: z.string().uuid() });

const listPipelines = createRoute({
  method: "get",
  path: "/v1/pipelines",
  tags: ["pipelines"],
  description: "The pipelines this service can run by name, with the hash of each spec.",
  responses: { 200: json(api.PipelineList, "Known pipelines") },
});

const createRun = createRoute({
  method: "post",
  path: "/v1/pipelines/runs",
  tags: ["pipelines"],
  description:
    "Queue a run of a named pipeline or of a spec given inline. A worker builds the version (committed unless `commit` is false); follow it with `GET /v1/pipelines/runs/{id}`. Its `files` sources read only below `CURATOR_SOURCES_DIR`, `CURATOR_IMPORT_DIR` and `CURATOR_SOURCE_ROOTS` (links followed, never `/proc`, `/sys` or `/dev`): a path naming a place outside them is refused with 400, a link leading outside fails the run.",
  request: { body: { content: { "application/json": { schema: api.CreateRunBody } }, required: true } },
  responses: { 202: json(api.RunBody, "The queued run"), ...commonErrors },
});

const listRuns = createRoute({
  method: "get",
  path: "/v1/pipelines/runs",
  tags: ["pipelines"],
  request: {
    query: z.object({
      status: api.RunStatus.optional(),
      limit: z.coerce.number().int().min(1).max(200).default(50),
    }),
  },
  responses: { 200: json(api.RunList, "Runs, newest first"), ...commonErrors },
});

const getRun = createRoute({
  method: "get",
  path: "/v1/pipelines/runs/{id}",
  tags: ["pipelines"],
  description: "Status and progress: records read and kept, per-step counts, rate and estimated time left.",
  request: { params: RunParams },
  responses: { 200: json(api.RunBody, "The run"), ...commonErrors },
});

const cancelRun = createRoute({
  method: "post",
  path: "/v1/pipelines/runs/{id}/cancel",
  tags: ["pipelines"],
  description: "A queued run stops at once; a running one after its current unit of work.",
  request: { params: RunParams },
  responses: {
    202: json(api.RunBody, "The run"),
    409: errorResponse("The run has already finished"),
    ...commonErrors,
  },
});

const resumeRun = createRoute({
  method: "post",
  path: "/v1/pipelines/runs/{id}/resume",
  tags: ["pipelines"],
  description: "Queue a cancelled or failed run again; it goes on from its last finished unit of work.",
  request: { params: RunParams },
  responses: {
    202: json(api.RunBody, "The run"),
    409: errorResponse("The run is not cancelled or failed"),
    ...commonErrors,
  },
});

type Run = z.infer<typeof api.RunBody>;

export function registerRunRoutes(app: App) {
  app.openapi(listPipelines, (c) => {
    const runs = c.get("runs");
    const items = runs.pipelineNames().map((name) => {
      const spec = runs.pipelineSpec(name);
      return {
        name,
        dataset: spec.dataset.name,
        kind: spec.dataset.kind,
        description: spec.description,
        configHash: sha256Hex(canonicalJson(spec)),
      };
    });
    return c.json({ items }, 200);
  });

  app.openapi(createRun, async (c) => {
    const body = c.req.valid("json");
    const run = await c.get("runs").submit({
      // A spec sent over HTTP runs with the server's rights: its sources stay within the source roots.
      origin: "api",
      commit: body.commit,
      ...(body.pipeline !== undefined ? { pipeline: body.pipeline } : {}),
      ...(body.spec !== undefined ? { spec: body.spec } : {}),
    });
    return c.json(run as Run, 202);
  });

  app.openapi(listRuns, async (c) => {
    const q = c.req.valid("query");
    const items = await c.get("runs").list({ limit: q.limit, ...(q.status ? { status: q.status } : {}) });
    return c.json({ items: items as Run[] }, 200);
  });

  app.openapi(getRun, async (c) => c.json((await c.get("runs").get(c.req.valid("param").id)) as Run, 200));
  app.openapi(cancelRun, async (c) =>
    c.json((await c.get("runs").cancel(c.req.valid("param").id)) as Run, 202),
  );
  app.openapi(resumeRun, async (c) =>
    c.json((await c.get("runs").resume(c.req.valid("param").id)) as Run, 202),
  );
}
