/**
 * @module The services' one error module: codes, their HTTP statuses, the error class services throw, and the
 * JSON shape every failure takes on the wire: `{error: {code, message, requestId}}`.
 */
import { z } from "@hono/zod-openapi";

export const errorStatus = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RANGE_NOT_SATISFIABLE: 416,
  INPUT_REJECTED: 422,
  INTEGRITY_ERROR: 500,
  INTERNAL: 500,
  /** A remote service we called (the Hugging Face Hub, say) failed or refused. */
  UPSTREAM_ERROR: 502,
  /** The service cannot serve now (its database does not answer). */
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  get status(): (typeof errorStatus)[ErrorCode] {
    return errorStatus[this.code];
  }
}

export const notFound = (what: string) => new ServiceError("NOT_FOUND", `${what} not found`);

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      requestId: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi("Error");

export function errorBody(code: ErrorCode, message: string, requestId: string, details?: unknown) {
  return { error: { code, message, requestId, ...(details === undefined ? {} : { details }) } };
}
