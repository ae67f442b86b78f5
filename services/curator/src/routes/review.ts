/** @module Review queues over HTTP: create one for a version, list and get them, next item, decide, metrics. */
import { createRoute, z } from "@hono/zod-openapi";
import { ServiceError } from "@sovereign/http";
import { Sha256Hex, tables } from "@sovereign/schemas";
import type { Context } from "hono";
import type { App, AppEnv } from "../context";
import { publishQueue } from "../publish";
import { commonErrors, errorResponse, json, VersionParams } from "./common";

const Plan = z
  .strictObject({
    strata: z.enum(tables.reviewStrata).default("none"),
    size: z.number().int().min(1).max(100_000),
    seed: z.number().int().default(0),
  })
  .openapi("ReviewPlan");

const CreateQueue = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    plan: Plan,
    reviewsPerItem: z.number().int().min(1).max(10).default(1),
    leaseSeconds: z.number().int().min(10).max(86_400).default(300),
  })
  .openapi("CreateReviewQueue");

const QueueInfo = z
  .object({
    id: z.string(),
    version: Sha256Hex,
    name: z.string(),
    plan: Plan,
    reviewsPerItem: z.number(),
    leaseSeconds: z.number(),
    items: z.number(),
    createdAt: z.string(),
    progress: z.object({ decided: z.number(), complete: z.number(), decisions: z.number() }),
  })
  .openapi("ReviewQueue");

const QueueParams = z.object({ id: z.uuid() });
const ItemParams = z.object({ id: z.uuid(), item: z.coerce.number().int().min(1) });

const DecisionBody = z
  .strictObject({
    decision: z.enum(["accept", "reject", "edit"]),
    /** For `edit`: the whole edited sample (same id), with `If-Match: "<revision>"` naming the revision edited. */
    sample: z.record(z.string(), z.unknown()).optional(),
    /** Reason codes for a rejection (`off-topic`, `unsafe`, `wrong-answer`, …). */
    reasons: z.array(z.string().trim().min(1).max(100)).max(20).default([]),
    note: z.string().max(10_000).default(""),
  })
  .refine((b) => b.decision !== "reject" || b.reasons.length > 0, {
    message: "a rejection needs at least one reason code",
    path: ["reasons"],
  })
  .refine((b) => (b.decision === "edit") === (b.sample !== undefined), {
    message: "an edit carries the edited sample, and only an edit does",
    path: ["sample"],
  })
  .openapi("ReviewDecision");

const create = createRoute({
  method: "post",
  path: "/v1/versions/{hash}/review-queues",
  tags: ["review"],
  description:
    "A review queue over a version (draft or committed): a seeded sample of its samples, uniformly or `size` per source, or of the records its filters dropped, `size` per step and reason.",
  request: {
    params: VersionParams,
    body: { content: { "application/json": { schema: CreateQueue } }, required: true },
  },
  responses: {
    201: json(QueueInfo, "The queue"),
    422: errorResponse("The plan selects nothing"),
    ...commonErrors,
  },
});

const list = createRoute({
  method: "get",
  path: "/v1/review-queues",
  tags: ["review"],
  responses: { 200: json(z.object({ items: z.array(QueueInfo) }), "Queues, newest first"), ...commonErrors },
});

const get = createRoute({
  method: "get",
  path: "/v1/review-queues/{id}",
  tags: ["review"],
  request: { params: QueueParams },
  responses: { 200: json(QueueInfo, "The queue with its progress"), ...commonErrors },
});

const next = createRoute({
  method: "post",
  path: "/v1/review-queues/{id}/next",
  tags: ["review"],
  description:
    "The next item for the caller, leased to them until `leaseExpiresAt`: one nobody else holds, that they have not decided, and that lacks its decisions. Asking again while holding one returns it with the lease renewed. 204 when nothing is left for them.",
  request: { params: QueueParams },
  responses: {
    200: json(z.record(z.string(), z.unknown()), "The item, with its sample or dropped record"),
    204: { description: "Nothing left for this reviewer" },
    ...commonErrors,
  },
});

const decide = createRoute({
  method: "post",
  path: "/v1/review-queues/{id}/items/{item}/decision",
  tags: ["review"],
  request: {
    params: ItemParams,
    body: { content: { "application/json": { schema: DecisionBody } }, required: true },
  },
  responses: {
    201: json(z.record(z.string(), z.unknown()), "The decision"),
    409: errorResponse(
      "The item is not leased to the caller, the lease expired, it was decided already, or (edit) the sample moved past the If-Match revision",
    ),
    ...commonErrors,
  },
});

const metrics = createRoute({
  method: "get",
  path: "/v1/review-queues/{id}/metrics",
  tags: ["review"],
  description:
    "Progress, acceptance by stratum, agreement between reviewers (Cohen's kappa for 2 decisions per item, Fleiss' for more), and per filter reason the share of reviewed drops reviewers agreed with.",
  request: { params: QueueParams },
  responses: { 200: json(z.record(z.string(), z.unknown()), "Metrics"), ...commonErrors },
});

const publish = createRoute({
  method: "post",
  path: "/v1/review-queues/{id}/publish",
  tags: ["review"],
  description:
    "Publish what the queue decided: a new version of its (committed) version without the samples reviewers rejected and with their edits, marked published, with the parent and queue as its lineage. Needs a finished queue kept at least CURATOR_PUBLISH_MIN_ACCEPTANCE of the time. Publishing again returns the same version (200).",
  request: { params: QueueParams },
  responses: {
    201: json(z.record(z.string(), z.unknown()), "The published version"),
    200: json(z.record(z.string(), z.unknown()), "Published before: the same version"),
    409: errorResponse(
      "The queue is not finished, its acceptance is under the threshold, or its version is a draft",
    ),
    ...commonErrors,
  },
});

/** The reviewer a request speaks for: its token, or `local` with access control off. */
const reviewerOf = (c: Context<AppEnv>) => c.get("principal")?.tokenId ?? "local";

export function registerReviewRoutes(app: App) {
  app.openapi(create, async (c) => {
    const body = c.req.valid("json");
    const queue = await c.get("reviews").create(c.req.valid("param").hash, body, c.get("principal")?.tokenId);
    return c.json(queue, 201);
  });
  app.openapi(list, async (c) => c.json({ items: await c.get("reviews").list() }, 200));
  app.openapi(get, async (c) => c.json(await c.get("reviews").get(c.req.valid("param").id), 200));
  app.openapi(next, async (c) => {
    const item = await c.get("reviews").next(c.req.valid("param").id, reviewerOf(c));
    return item ? c.json(item as Record<string, unknown>, 200) : c.body(null, 204);
  });
  app.openapi(decide, async (c) => {
    const { id, item } = c.req.valid("param");
    const header = c.req.header("if-match");
    let ifMatch: number | undefined;
    if (header !== undefined) {
      const m = /^\s*"?(\d+)"?\s*$/.exec(header);
      if (!m)
        throw new ServiceError(
          "BAD_REQUEST",
          `header.if-match: ${JSON.stringify(header)} is not a revision like "2"`,
        );
      ifMatch = Number(m[1]);
    }
    const decision = await c.get("reviews").decide(id, item, reviewerOf(c), {
      ...c.req.valid("json"),
      ...(ifMatch === undefined ? {} : { ifMatch }),
    });
    return c.json(decision as Record<string, unknown>, 201);
  });
  app.openapi(publish, async (c) => {
    const config = c.get("config");
    const result = await publishQueue(
      { registry: c.get("registry"), reviews: c.get("reviews") },
      c.req.valid("param").id,
      { ...config.publish, scratchDir: config.scratchDir, shardLimits: config.shardLimits },
      c.get("principal")?.tokenId,
    );
    return c.json(result as unknown as Record<string, unknown>, result.created ? 201 : 200);
  });
  app.openapi(metrics, async (c) =>
    c.json((await c.get("reviews").metrics(c.req.valid("param").id)) as Record<string, unknown>, 200),
  );
}
