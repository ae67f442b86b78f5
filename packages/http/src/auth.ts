/**
 * @module Access control shared by the services: API tokens carry one role, and every route has an entry in
 * the service's access policy naming the roles that may call it (or `public`). One middleware reads the bearer
 * token, finds the route the request matched, and answers 401 (no token, or one that is unknown or revoked)
 * or 403 (a role the route does not allow) before the route runs. A route missing from the policy is refused
 * with 500: access fails closed, and the services' tests check that every route has an entry.
 *
 * Successful calls of policy entries that name an `action` are handed to `audit` (who, what, on which target).
 */
import type { Context, Env, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { matchedRoutes } from "hono/route";
import { ServiceError } from "./errors";

export const ROLES = ["admin", "curator", "reviewer", "pipeline", "trainer"] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: the token's id, name and role. */
export type Principal = { tokenId: string; name: string; role: Role };

/**
 * One route's rule: the roles that may call it, or `public`; `action` names it in the audit log. A `page` is
 * a browser page: its caller may also be the signed-in session of its cookie, and a caller without a valid
 * one is sent to the sign-in page instead of getting a 401.
 */
export type AccessRule = { roles: readonly Role[] | "public"; action?: string; page?: boolean };

/** Rules by `METHOD /path/:param` as the routes are registered (Hono's path syntax). */
export type AccessPolicy = Record<string, AccessRule>;

export type AuditEntry = {
  principal: Principal | undefined;
  action: string;
  /** The route's path parameters (ids, hashes), as the target of the action. */
  target: Record<string, string>;
  requestId: string;
  status: number;
};

export type AuthOptions = {
  policy: AccessPolicy;
  /** The principal a token stands for, or undefined for an unknown or revoked token. */
  verify(token: string): Promise<Principal | undefined>;
  /** For `page` rules: the principal of a session cookie's value, or undefined for one expired or ended. */
  verifySession?(session: string): Promise<Principal | undefined>;
  /** With `false`, no token is asked for (a local demo, tests of other things); the policy still must cover the route. */
  enabled: boolean;
  audit?(entry: AuditEntry, c: Context): Promise<void>;
  /** For `page` rules: the cookie that holds the session, and where to sign in. */
  pages?: { cookie: string; signIn: string };
};

/** The key of the route a request matched (`GET /v1/versions/:hash`), or undefined when only middleware did. */
export function matchedRouteKey(c: Context): string | undefined {
  const route = matchedRoutes(c).at(-1);
  if (!route || route.method === "ALL" || route.path === "*" || route.path === "/*") return undefined;
  return `${route.method} ${route.path}`;
}

/** The bearer token of a request, if it carries one. */
export function bearerToken(c: Context): string | undefined {
  const header = c.req.header("authorization");
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

export function authorize<E extends Env>(options: AuthOptions): MiddlewareHandler<E> {
  return async (c, next) => {
    const key = matchedRouteKey(c);
    if (!key) return next(); // no route: the service's 404
    const rule = options.policy[key];
    if (!rule) throw new ServiceError("INTERNAL", `no access rule for ${key}`);
    let principal: Principal | undefined;
    if (rule.roles !== "public" && options.enabled) {
      const pages = rule.page ? options.pages : undefined;
      const token = bearerToken(c);
      // The cookie holds a session, never a token: it is honoured on pages only, so it cannot reach the API.
      const session = !token && pages ? getCookie(c, pages.cookie) : undefined;
      principal = token
        ? await options.verify(token)
        : session && options.verifySession
          ? await options.verifySession(session)
          : undefined;
      if (!principal && pages) {
        // A page: sign in, then come back (to the page itself after a form post).
        const back =
          c.req.method === "GET" ? c.req.path + new URL(c.req.url).search : (c.req.header("referer") ?? "");
        const sameSite = back.startsWith("/") || back.startsWith(new URL(c.req.url).origin);
        const to =
          sameSite && back ? `?next=${encodeURIComponent(back.replace(new URL(c.req.url).origin, ""))}` : "";
        return c.redirect(`${pages.signIn}${to}`, 303);
      }
      if (!token && !session)
        throw new ServiceError(
          "UNAUTHORIZED",
          `${key} needs an API token (Authorization: Bearer <token>) of role ${rule.roles.join(", ")}`,
        );
      if (!principal)
        throw new ServiceError("UNAUTHORIZED", "the API token is not valid: unknown or revoked");
      if (!rule.roles.includes(principal.role))
        throw new ServiceError(
          "FORBIDDEN",
          `a ${principal.role} token may not call ${key}; it needs ${rule.roles.join(", ")}`,
        );
      // biome-ignore lint/suspicious/noExplicitAny: services declare `principal` in their own variables.
      c.set("principal" as any, principal as any);
    }
    await next();
    if (rule.action && options.audit && c.res.status < 400) {
      const requestId = (c.get("requestId" as never) as string | undefined) ?? "unknown";
      await options.audit(
        {
          principal,
          action: rule.action,
          target: c.req.param() as Record<string, string>,
          requestId,
          status: c.res.status,
        },
        c,
      );
    }
  };
}
