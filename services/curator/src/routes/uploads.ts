/** @module POST /v1/uploads: stream one input file to the server, to build versions from it. */
import { createRoute, z } from "@hono/zod-openapi";
import { api } from "@sovereign/schemas";
import type { App } from "../context";
import { commonErrors, errorResponse, json } from "./common";

const upload = createRoute({
  method: "post",
  path: "/v1/uploads",
  tags: ["uploads"],
  description:
    "The request body is the raw file: Parquet when `filename` ends in `.parquet`, JSONL otherwise. Bytes that do not " +
    "agree with the name (a `.parquet` name on bytes without Parquet's `PAR1` magic at both ends, or Parquet bytes " +
    "under another name) are refused with 400. Returns an upload id to name in `POST /v1/datasets/{name}/versions`.",
  request: {
    query: z.object({ filename: z.string().min(1).max(255) }),
    body: {
      content: {
        "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) },
        "application/x-ndjson": { schema: z.string().openapi({ format: "binary" }) },
      },
      required: true,
    },
  },
  responses: {
    201: json(api.UploadInfo, "Stored"),
    413: errorResponse("Larger than CURATOR_MAX_UPLOAD_BYTES"),
    ...commonErrors,
  },
});

export function registerUploadRoutes(app: App) {
  app.openapi(upload, async (c) => {
    const { filename } = c.req.valid("query");
    const length = c.req.header("content-length");
    const info = await c.get("uploads").save(filename, c.req.raw.body, length ? Number(length) : undefined);
    c.get("logger").info(
      { upload: info.upload, bytes: info.bytes, filename, format: info.format },
      "upload stored",
    );
    return c.json(info, 201);
  });
}
