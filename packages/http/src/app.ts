/**
 * @module What every service's Hono app shares: request ids, request logs, one error shape for every failure,
 * and zod validation errors that name the field. A service creates its app here, then adds its routes.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, Env } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "pino";
import type { ZodError } from "zod";
import { type ErrorCode, errorBody, ServiceError } from "./errors";

/** `body.inputs.0.split: Invalid string` — where the bad value is, then what is wrong with it. */
export function describeValidation(target: string, error: ZodError): string {
  const where = targetNames[target] ?? target;
  return error.issues
    .slice(0, 10)
    .map((i) => `${[where, ...i.path.map(String)].join(".")}: ${i.message}`)
    .join("; ");
}

/** Hono's validation targets, named as a client thinks of them. */
const targetNames: Record<string, string> = { json: "body", param: "path", query: "query", header: "header" };

/** The context every service's routes see: at least a request id and a request-scoped logger. */
export type ServiceEnv = { Variables: { requestId: string; logger: Logger } };

/**
 * A Hono app with the shared middleware. `context` sets the service's own variables on each request, before its
 * routes run.
 */
export function createServiceApp<E extends Env & ServiceEnv>(options: {
  logger: Logger;
  /** Refuse request bodies over this many bytes with 413 (`maxBodyHint` names the setting), except where `unlimitedBody` says. */
  maxBodyBytes?: number;
  maxBodyHint?: string;
  unlimitedBody?: (c: Context) => boolean;
  /** Answer an error some other way than JSON (an HTML page for a browser page); undefined keeps JSON. */
  renderError?: (
    c: Context,
    error: { code: ErrorCode; message: string; status: ContentfulStatusCode; requestId: string },
  ) => Response | Promise<Response> | undefined;
  context?: (set: <K extends keyof E["Variables"]>(key: K, value: E["Variables"][K]) => void) => void;
}): OpenAPIHono<E> {
  const { logger } = options;
  const app = new OpenAPIHono<E>({
    defaultHook: (result, c) => {
      if (!result.success) {
        return c.json(
          errorBody("BAD_REQUEST", describeValidation(result.target, result.error), c.get("requestId")),
          400,
        );
      }
    },
  });

  app.use(requestId({ headerName: "X-Request-Id" }));
  // No answer is to be sniffed into another type than it says (a JSONL sample served as HTML, say).
  app.use(async (c, next) => {
    await next();
    c.res.headers.set("X-Content-Type-Options", "nosniff");
  });
  app.use(async (c, next) => {
    const log = logger.child({ requestId: c.get("requestId") });
    // biome-ignore lint/suspicious/noExplicitAny: the service's own variables, typed by `E` at the call site.
    options.context?.((key, value) => c.set(key as any, value as any));
    c.set("logger", log);
    const started = performance.now();
    await next();
    log.info(
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      },
      "request",
    );
  });

  if (options.maxBodyBytes !== undefined) {
    const limit = bodyLimit({
      maxSize: options.maxBodyBytes,
      onError: () => {
        throw new ServiceError(
          "PAYLOAD_TOO_LARGE",
          `the request body is larger than ${options.maxBodyBytes} bytes${options.maxBodyHint ? ` (${options.maxBodyHint})` : ""}`,
        );
      },
    });
    app.use(async (c, next) => {
      if (c.req.method === "GET" || c.req.method === "HEAD" || options.unlimitedBody?.(c)) return next();
      return limit(c, next);
    });
  }

  app.onError((error, c) => {
    const id = c.get("requestId") ?? "unknown";
    const answer = (code: ErrorCode, message: string, status: ContentfulStatusCode, details?: unknown) =>
      options.renderError?.(c, { code, message, status, requestId: id }) ??
      c.json(errorBody(code, message, id, details), status);
    if (error instanceof ServiceError) {
      if (error.status >= 500) (c.get("logger") as Logger | undefined)?.error({ err: error }, error.message);
      return answer(error.code, error.message, error.status, error.details);
    }
    if (error instanceof HTTPException) {
      const code: ErrorCode =
        error.status === 413 ? "PAYLOAD_TOO_LARGE" : error.status === 404 ? "NOT_FOUND" : "BAD_REQUEST";
      return answer(code, error.message || "bad request", error.status as ContentfulStatusCode);
    }
    if (error instanceof SyntaxError) {
      return answer("BAD_REQUEST", `malformed JSON body: ${error.message}`, 400);
    }
    ((c.get("logger") as Logger | undefined) ?? logger).error({ err: error }, "unhandled error");
    return c.json(
      errorBody("INTERNAL", "internal error; the server log has the details under this request id", id),
      500,
    );
  });

  app.notFound((c) =>
    c.json(errorBody("NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`, c.get("requestId")), 404),
  );
  return app;
}
