/** @module Samples: browse a version page by page (by split or source), or get one sample with its content. */
import { createRoute, z } from "@hono/zod-openapi";
import { api } from "@sovereign/schemas";
import type { App } from "../context";
import { commonErrors, json, VersionParams } from "./common";

const browse = createRoute({
  method: "get",
  path: "/v1/versions/{hash}/samples",
  tags: ["samples"],
  description:
    "Samples in version order. Pass the returned `nextCursor` as `cursor` for the next page; `content=false` returns the index only.",
  request: { params: VersionParams, query: api.BrowseQuery },
  responses: { 200: json(api.SamplePage, "A page of samples"), ...commonErrors },
});

const get = createRoute({
  method: "get",
  path: "/v1/versions/{hash}/samples/{sampleId}",
  tags: ["samples"],
  request: { params: VersionParams.extend({ sampleId: z.string().min(1).max(256) }) },
  responses: { 200: json(api.SampleEntry, "The sample, read from its verified shard"), ...commonErrors },
});

export function registerSampleRoutes(app: App) {
  app.openapi(browse, async (c) => {
    const { hash } = c.req.valid("param");
    const q = c.req.valid("query");
    const page = await c.get("registry").browseSamples(hash, {
      limit: q.limit,
      content: q.content,
      ...(q.split !== undefined ? { split: q.split } : {}),
      ...(q.source !== undefined ? { source: q.source } : {}),
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    });
    return c.json(page as z.infer<typeof api.SamplePage>, 200);
  });

  app.openapi(get, async (c) => {
    const { hash, sampleId } = c.req.valid("param");
    return c.json(
      (await c.get("registry").getSample(hash, sampleId)) as z.infer<typeof api.SampleEntry>,
      200,
    );
  });
}
