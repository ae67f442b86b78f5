/** @module Shared route pieces: path parameters and the error responses every route may give. */
import { z } from "@hono/zod-openapi";
import { api, Sha256Hex } from "@sovereign/schemas";
import { ErrorBody } from "../errors";

export const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorBody } },
});

export const commonErrors = {
  400: errorResponse("Malformed request: the message names the field"),
  401: errorResponse("No API token, or one that is unknown or revoked"),
  403: errorResponse("The token's role may not call this route"),
  404: errorResponse("Unknown dataset, version, sample or file"),
  500: errorResponse("Internal error, or stored data failed its integrity check"),
} as const;

export const DatasetParams = z.object({ name: api.DatasetName });
export const VersionParams = z.object({ hash: Sha256Hex });

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
