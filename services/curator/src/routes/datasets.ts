/** @module Datasets: create, list, get. */
import { createRoute, z } from "@hono/zod-openapi";
import { api } from "@sovereign/schemas";
import type { App } from "../context";
import { commonErrors, DatasetParams, errorResponse, json } from "./common";

const create = createRoute({
  method: "post",
  path: "/v1/datasets",
  tags: ["datasets"],
  request: { body: { content: { "application/json": { schema: api.CreateDatasetBody } }, required: true } },
  responses: {
    201: json(api.DatasetInfo, "Created"),
    409: errorResponse("A dataset with this name exists"),
    ...commonErrors,
  },
});

const list = createRoute({
  method: "get",
  path: "/v1/datasets",
  tags: ["datasets"],
  responses: { 200: json(z.object({ items: z.array(api.DatasetInfo) }), "All datasets, by name") },
});

const get = createRoute({
  method: "get",
  path: "/v1/datasets/{name}",
  tags: ["datasets"],
  request: { params: DatasetParams },
  responses: { 200: json(api.DatasetInfo, "The dataset"), ...commonErrors },
});

export function registerDatasetRoutes(app: App) {
  app.openapi(create, async (c) => c.json(await c.get("registry").createDataset(c.req.valid("json")), 201));
  app.openapi(list, async (c) => c.json({ items: await c.get("registry").listDatasets() }, 200));
  app.openapi(get, async (c) => c.json(await c.get("registry").getDataset(c.req.valid("param").name), 200));
}
