/**
 * @module GET /v1/versions/{hash}/files/{path}: the files of a version in the Hugging Face layout
 * (`manifest.json`, `README.md`, `data/*.parquet`, `rejected/*.jsonl`), with `ETag` = sha256 and single
 * `Range` requests. Bytes are verified against their sha256 before they are served.
 */
import { Readable } from "node:stream";
import { z } from "@hono/zod-openapi";
import { Sha256Hex } from "@sovereign/schemas";
import type { App } from "../context";
import { CuratorError, errorBody } from "../errors";
import { commonErrors, errorResponse } from "./common";

export type ByteRange = { start: number; end: number };

/**
 * Parse a `Range` header for a file of `size` bytes. Returns undefined when the header is absent or not a
 * single byte range (served whole, as RFC 9110 allows), "unsatisfiable" for a range past the end.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | "unsatisfiable" | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return "unsatisfiable";
  if (end < start) return undefined;
  return { start, end };
}

export function registerFileRoutes(app: App) {
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/v1/versions/{hash}/files/{path}",
    tags: ["files"],
    description:
      "A file of the version (the path may contain '/'). `ETag` is the sha256; `If-None-Match` and single `Range` requests are honoured.",
    request: {
      params: z.object({
        hash: Sha256Hex,
        path: z.string().openapi({ example: "data/train-00000-of-00001.parquet" }),
      }),
    },
    responses: {
      200: { description: "The whole file" },
      206: { description: "The requested range" },
      304: { description: "Not modified" },
      416: errorResponse("Range not satisfiable"),
      ...commonErrors,
    },
  });

  app.on(["GET", "HEAD"], "/v1/versions/:hash/files/:path{.+}", async (c) => {
    const registry = c.get("registry");
    const hash = c.req.param("hash");
    const path = c.req.param("path");
    if (path.split("/").some((part) => part === ".." || part === "." || part === "") || path.includes("\\")) {
      throw new CuratorError("BAD_REQUEST", `file path ${JSON.stringify(path)} is not allowed`);
    }
    const file = await registry.versionFile(hash, path);
    await registry.verifyBlob(file.sha256, file.label);
    const etag = `"${file.sha256}"`;
    const headers: Record<string, string> = {
      ETag: etag,
      "Accept-Ranges": "bytes",
      "Content-Type": file.contentType,
      "Cache-Control": "public, max-age=31536000, immutable",
    };
    const inm = c.req.header("if-none-match");
    if (inm?.split(",").some((t) => t.trim() === etag || t.trim() === "*")) {
      return c.body(null, 304, headers);
    }
    const range = parseRange(c.req.header("range"), file.bytes);
    if (range === "unsatisfiable") {
      return c.json(
        errorBody("RANGE_NOT_SATISFIABLE", `range outside the ${file.bytes}-byte file`, c.get("requestId")),
        416,
        { "Content-Range": `bytes */${file.bytes}` },
      );
    }
    const { start, end } = range ?? { start: 0, end: file.bytes - 1 };
    headers["Content-Length"] = String(end - start + 1);
    if (range) headers["Content-Range"] = `bytes ${start}-${end}/${file.bytes}`;
    const status = range ? 206 : 200;
    if (c.req.method === "HEAD" || file.bytes === 0) return c.body(null, status, headers);
    const stream = Readable.toWeb(registry.store.openRange(file.sha256, start, end)) as ReadableStream;
    return c.body(stream, status, headers);
  });
}
