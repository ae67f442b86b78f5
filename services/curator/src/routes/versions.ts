/** @module Versions: build a draft from uploaded or located files, commit, discard, list, get, diff, verify. */
import { createRoute, z } from "@hono/zod-openapi";
import { api, Sha256Hex } from "@sovereign/schemas";
import type { InputFile } from "@sovereign/shards";
import type { App } from "../context";
import { hubPushesOf } from "../hub-push";
import { commonErrors, DatasetParams, errorResponse, json, VersionParams } from "./common";

const list = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/versions",
  tags: ["versions"],
  request: { params: DatasetParams },
  responses: {
    200: json(z.object({ items: z.array(api.VersionInfo) }), "Versions, newest first"),
    ...commonErrors,
  },
});

const create = createRoute({
  method: "post",
  path: "/v1/datasets/{name}/versions",
  tags: ["versions"],
  description:
    "Build a draft version from uploaded files (`upload`) or files under the server's import directory (`path`). " +
    "Deterministic: the same inputs and options give the same version hash; asking again returns the existing version with 200, also when identical builds run at once (one gets 201).",
  request: {
    params: DatasetParams,
    body: { content: { "application/json": { schema: api.CreateVersionBody } }, required: true },
  },
  responses: {
    200: json(api.VersionInfo, "This version already existed"),
    201: json(api.VersionInfo, "Built as a draft"),
    422: errorResponse(
      "Input records were rejected beyond maxRejected; `details.records` lists file:line and reason",
    ),
    ...commonErrors,
  },
});

const get = createRoute({
  method: "get",
  path: "/v1/versions/{hash}",
  tags: ["versions"],
  request: { params: VersionParams },
  responses: { 200: json(api.VersionDetail, "The version with its manifest"), ...commonErrors },
});

const commit = createRoute({
  method: "post",
  path: "/v1/versions/{hash}/commit",
  tags: ["versions"],
  description:
    "Make a draft immutable. Committing a committed version is a no-op. A commit and a discard of one draft at once: the first to reach it wins, the other gets 409.",
  request: { params: VersionParams },
  responses: {
    200: json(api.VersionInfo, "Committed"),
    409: errorResponse("The draft was discarded before it could be committed"),
    ...commonErrors,
  },
});

const discard = createRoute({
  method: "delete",
  path: "/v1/versions/{hash}",
  tags: ["versions"],
  request: { params: VersionParams },
  responses: {
    204: { description: "Draft discarded" },
    409: errorResponse(
      "The version is committed and immutable (also when a commit got there first), or a review queue names it",
    ),
    ...commonErrors,
  },
});

const diff = createRoute({
  method: "get",
  path: "/v1/versions/{hash}/diff/{other}",
  tags: ["versions"],
  description: "Samples added and removed from `hash` to `other`, compared by content hash.",
  request: {
    params: z.object({ hash: Sha256Hex, other: Sha256Hex }),
    query: z.object({ limit: z.coerce.number().int().min(0).max(1000).default(100) }),
  },
  responses: { 200: json(api.VersionDiff, "The difference"), ...commonErrors },
});

const verify = createRoute({
  method: "post",
  path: "/v1/versions/{hash}/verify",
  tags: ["versions"],
  description:
    "Re-hash the manifest (`manifest.json`), the card (`README.md`) and every shard and rejected-records file of " +
    "the version in the blob store; each is `ok`, `corrupt` or `missing`.",
  request: { params: VersionParams },
  responses: {
    200: json(api.VerifyReport, "The report (`ok: false` names each bad file)"),
    ...commonErrors,
  },
});

const HubPush = z
  .object({
    version: Sha256Hex,
    endpoint: z.string(),
    repo: z.string(),
    branch: z.string(),
    commit: z.string(),
    commitUrl: z.string().nullable(),
    files: z.array(z.object({ path: z.string(), sha256: Sha256Hex, bytes: z.number().int() })),
    pushedAt: z.string(),
  })
  .openapi("HubPush");

const hubPushes = createRoute({
  method: "get",
  path: "/v1/versions/{hash}/hub-pushes",
  tags: ["versions"],
  description:
    "Where the version was pushed on a Hugging Face Hub (`curator push`): repo, branch, the Hub commit and the files it holds.",
  request: { params: VersionParams },
  responses: { 200: json(z.object({ items: z.array(HubPush) }), "Pushes, newest first"), ...commonErrors },
});

export function registerVersionRoutes(app: App) {
  app.openapi(list, async (c) =>
    c.json({ items: await c.get("registry").listVersions(c.req.valid("param").name) }, 200),
  );

  app.openapi(create, async (c) => {
    const registry = c.get("registry");
    const uploads = c.get("uploads");
    const { name } = c.req.valid("param");
    const body = c.req.valid("json");
    const inputs: InputFile[] = [];
    const labels = new Map<string, string>();
    for (const input of body.inputs) {
      if ("upload" in input) {
        const upload = await uploads.get(input.upload);
        inputs.push({
          path: upload.path,
          split: input.split,
          source: input.source ?? upload.filename,
          format: upload.format,
        });
        labels.set(upload.path, upload.filename);
      } else {
        const path = await registry.locateInput(input.path);
        inputs.push({ path, split: input.split, ...(input.source ? { source: input.source } : {}) });
        labels.set(path, input.path);
      }
    }
    const { version, created } = await registry.buildVersion(name, {
      inputs,
      maxRejected: body.maxRejected,
      parents: body.parents,
      ...(body.description !== undefined ? { description: body.description } : {}),
      ...(body.shardLimits ? { limits: body.shardLimits } : {}),
      labelOf: (input) => labels.get(input.path) ?? input.path,
    });
    for (const input of body.inputs) if ("upload" in input) await uploads.remove(input.upload);
    c.get("logger").info({ version: version.hash, created, rows: version.stats.rows }, "version built");
    return c.json(version, created ? 201 : 200);
  });

  app.openapi(get, async (c) => {
    return c.json(await c.get("registry").getVersionDetail(c.req.valid("param").hash), 200);
  });

  app.openapi(commit, async (c) =>
    c.json(await c.get("registry").commitVersion(c.req.valid("param").hash), 200),
  );

  app.openapi(discard, async (c) => {
    await c.get("registry").discardDraft(c.req.valid("param").hash);
    return c.body(null, 204);
  });

  app.openapi(diff, async (c) => {
    const { hash, other } = c.req.valid("param");
    return c.json(await c.get("registry").diff(hash, other, c.req.valid("query").limit), 200);
  });

  app.openapi(verify, async (c) => c.json(await c.get("registry").verify(c.req.valid("param").hash), 200));

  app.openapi(hubPushes, async (c) => {
    const registry = c.get("registry");
    const { hash } = c.req.valid("param");
    await registry.getVersion(hash); // 404 for an unknown version
    return c.json({ items: await hubPushesOf(registry, hash) }, 200);
  });
}
