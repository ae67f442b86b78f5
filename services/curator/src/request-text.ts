/**
 * @module Text PostgreSQL cannot store, refused before a route runs: U+0000 in a path or query parameter or a
 * form field, and in a JSON body U+0000, an unpaired surrogate, a number out of range or nesting past the limit,
 * are a 400 naming the parameter or field, where they would otherwise fail deep in the database as a 500.
 */
import { jsonValueIssue, MAX_JSON_DEPTH } from "@sovereign/schemas";
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { CuratorError } from "./errors";
import { storableText } from "./pg-text";

/** A request body holds a record (a review's edited sample) inside its own fields: room for both. */
const BODY_MAX_DEPTH = 2 * MAX_JSON_DEPTH;

const hasNul = (text: string) => text.includes("\u0000");

function refuse(what: string): never {
  throw new CuratorError(
    "BAD_REQUEST",
    `${what} holds a NUL character (U+0000), which is not allowed: PostgreSQL text cannot store it`,
  );
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The route's parameter at a path segment: `:sampleId` there, or a last `:path{.+}` that spans the rest. */
function parameterAt(c: Context, index: number): string {
  const pattern = (matchedRoutes(c).at(-1)?.path ?? "").split("/");
  const name = (part: string) => `path parameter ${part.slice(1).replace(/\{.*$/, "")}`;
  const here = pattern[index];
  if (here?.startsWith(":")) return name(here);
  const last = pattern[pattern.length - 1] ?? "";
  if (index >= pattern.length - 1 && last.startsWith(":") && /\{\.[+*]\}$/.test(last)) return name(last);
  return `path segment ${index}`;
}

export function refuseUnstorableText(
  options: { skipBody?: (c: Context) => boolean } = {},
): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    url.pathname.split("/").forEach((segment, index) => {
      if (hasNul(decoded(segment))) refuse(parameterAt(c, index));
    });
    for (const [key, value] of url.searchParams)
      if (hasNul(key) || hasNul(value)) refuse(`query parameter ${storableText(key)}`);
    if (!options.skipBody?.(c)) {
      const type = c.req.header("content-type") ?? "";
      if (/^application\/(.+\+)?json\b/i.test(type)) {
        // Unparsable JSON is left to the route's validation, which reads the same cached body and says why.
        const body: unknown = await c.req.json().catch(() => undefined);
        const issue = jsonValueIssue(body, { refuseNul: true, maxDepth: BODY_MAX_DEPTH });
        if (issue)
          throw new CuratorError(
            "BAD_REQUEST",
            `${["body", ...issue.path].map((p) => storableText(String(p))).join(".")}: ${issue.message}`,
          );
      } else if (/^application\/x-www-form-urlencoded\b/i.test(type)) {
        const form = await c.req.parseBody();
        for (const [key, value] of Object.entries(form))
          if (hasNul(key) || (typeof value === "string" && hasNul(value)))
            refuse(`form field ${storableText(key)}`);
      }
    }
    await next();
  };
}
