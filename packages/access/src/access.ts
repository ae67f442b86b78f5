/**
 * @module API tokens, the review page's sessions and the audit log. A token is `sv_` and 32 random bytes
 * (base64url), shown once when created and stored as its sha256; it carries one role. Verifying a token is a
 * lookup by that hash, kept for a few seconds in memory; revoking one here takes effect at once. Signing in to
 * the review page makes a session from a token: a random id for the browser's cookie, stored as its sha256,
 * that expires, ends when its token is revoked and is deleted at sign-out, so the cookie never holds the token
 * and a copied cookie stops working. The audit log says who did what to which target, and when.
 */
import { randomBytes } from "node:crypto";
import type { Database } from "@sovereign/db";
import {
  type AuthOptions,
  authorize,
  notFound,
  type Principal,
  ROLES,
  type Role,
  ServiceError,
} from "@sovereign/http";
import { tables } from "@sovereign/schemas";
import { sha256Hex } from "@sovereign/shards";
import { and, desc, eq, gt, isNull, lte, type SQL } from "drizzle-orm";
import type { Env, MiddlewareHandler } from "hono";

const { apiTokens, auditLog, pageSessions } = tables;

export type TokenInfo = {
  id: string;
  name: string;
  role: Role;
  createdBy: string | null;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
};

export type AuditRecord = {
  id: number;
  at: string;
  tokenId: string | null;
  actor: string;
  action: string;
  target: Record<string, string>;
  requestId: string | null;
};

const CACHE_MS = 5_000;
const TOUCH_MS = 60_000;

export class AccessControl {
  /** The access middleware of a service (`authorize` over its policy), checking tokens and auditing here. */
  middleware<E extends Env>(options: Omit<AuthOptions, "verify" | "audit">): MiddlewareHandler<E> {
    return authorize<E>({
      ...options,
      verify: (token) => this.verify(token),
      verifySession: (session) => this.verifySession(session),
      audit: (entry) => this.record(entry.principal, entry.action, entry.target, entry.requestId),
    });
  }

  private readonly cache = new Map<string, { principal: Principal | undefined; at: number }>();
  private readonly touched = new Map<string, number>();

  constructor(private readonly db: Database) {}

  /** A new token; the returned `token` is the only time it is seen. */
  async createToken(input: {
    name: string;
    role: Role;
    createdBy?: Principal;
  }): Promise<TokenInfo & { token: string }> {
    if (!ROLES.includes(input.role))
      throw new ServiceError("BAD_REQUEST", `role: ${input.role} is not one of ${ROLES.join(", ")}`);
    const name = input.name.trim();
    if (!name || name.length > 200) throw new ServiceError("BAD_REQUEST", "name: 1 to 200 characters");
    const token = `sv_${randomBytes(32).toString("base64url")}`;
    const [row] = await this.db
      .insert(apiTokens)
      .values({
        name,
        role: input.role,
        tokenSha256: sha256Hex(token),
        createdBy: input.createdBy?.tokenId ?? null,
      })
      .returning();
    await this.record(input.createdBy, "token.create", {
      token: (row as { id: string }).id,
      role: input.role,
    });
    return { ...info(row as typeof apiTokens.$inferSelect), token };
  }

  async listTokens(): Promise<TokenInfo[]> {
    const rows = await this.db.select().from(apiTokens).orderBy(desc(apiTokens.createdAt));
    return rows.map(info);
  }

  /** Revoke a token; revoking one already revoked changes nothing. */
  async revokeToken(id: string, by?: Principal): Promise<TokenInfo> {
    const [row] = await this.db
      .update(apiTokens)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
      .returning();
    const current = row ?? (await this.db.select().from(apiTokens).where(eq(apiTokens.id, id)))[0];
    if (!current) throw notFound(`token ${id}`);
    // Its sessions would be refused anyway (they count only while the token is not revoked): they go too.
    await this.db.delete(pageSessions).where(eq(pageSessions.tokenId, id));
    this.cache.clear();
    if (row) await this.record(by, "token.revoke", { token: id });
    return info(current);
  }

  /** The principal of a valid token, or undefined. */
  async verify(token: string): Promise<Principal | undefined> {
    const hash = sha256Hex(token);
    const now = Date.now();
    const cached = this.cache.get(hash);
    if (cached && now - cached.at < CACHE_MS) return cached.principal;
    const [row] = await this.db
      .select()
      .from(apiTokens)
      .where(and(eq(apiTokens.tokenSha256, hash), isNull(apiTokens.revokedAt)));
    const principal = row ? { tokenId: row.id, name: row.name, role: row.role } : undefined;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { principal, at: now });
    if (row && now - (this.touched.get(row.id) ?? 0) > TOUCH_MS) {
      this.touched.set(row.id, now);
      await this.db
        .update(apiTokens)
        .set({ lastUsedAt: new Date(now) })
        .where(eq(apiTokens.id, row.id));
    }
    return principal;
  }

  /** A review-page session for a token's principal, valid for `hours`; `session` is the cookie's value. */
  async createSession(principal: Principal, hours: number): Promise<{ session: string; expiresAt: Date }> {
    const now = Date.now();
    // Expired sessions are of no use to anyone: sign-ins clear them out.
    await this.db.delete(pageSessions).where(lte(pageSessions.expiresAt, new Date(now)));
    const session = randomBytes(32).toString("base64url");
    const expiresAt = new Date(now + hours * 3600_000);
    await this.db
      .insert(pageSessions)
      .values({ sessionSha256: sha256Hex(session), tokenId: principal.tokenId, expiresAt });
    return { session, expiresAt };
  }

  /** The principal of a session that has not expired, signed out or lost its token, or undefined. */
  async verifySession(session: string): Promise<Principal | undefined> {
    const [row] = await this.db
      .select({ tokenId: apiTokens.id, name: apiTokens.name, role: apiTokens.role })
      .from(pageSessions)
      .innerJoin(apiTokens, eq(apiTokens.id, pageSessions.tokenId))
      .where(
        and(
          eq(pageSessions.sessionSha256, sha256Hex(session)),
          gt(pageSessions.expiresAt, new Date()),
          isNull(apiTokens.revokedAt),
        ),
      );
    return row;
  }

  /** Sign out: the session is deleted, so its cookie no longer opens anything, even if replayed. */
  async endSession(session: string): Promise<void> {
    await this.db.delete(pageSessions).where(eq(pageSessions.sessionSha256, sha256Hex(session)));
  }

  /** One audit entry: `principal` undefined is the command line (or a call with access control off). */
  async record(
    principal: Principal | undefined,
    action: string,
    target: Record<string, string>,
    requestId?: string,
  ): Promise<void> {
    await this.db.insert(auditLog).values({
      tokenId: principal?.tokenId ?? null,
      actor: principal?.name ?? "cli",
      action,
      target,
      requestId: requestId ?? null,
    });
  }

  async audit(filter: { limit?: number; action?: string; tokenId?: string } = {}): Promise<AuditRecord[]> {
    const where: SQL[] = [];
    if (filter.action) where.push(eq(auditLog.action, filter.action));
    if (filter.tokenId) where.push(eq(auditLog.tokenId, filter.tokenId));
    const rows = await this.db
      .select()
      .from(auditLog)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(auditLog.id))
      .limit(Math.min(filter.limit ?? 100, 1000));
    return rows.map((r) => ({
      id: r.id,
      at: r.at.toISOString(),
      tokenId: r.tokenId,
      actor: r.actor,
      action: r.action,
      target: r.target,
      requestId: r.requestId,
    }));
  }
}

function info(r: typeof apiTokens.$inferSelect): TokenInfo {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    createdBy: r.createdBy,
    createdAt: r.createdAt.toISOString(),
    revokedAt: r.revokedAt?.toISOString() ?? null,
    lastUsedAt: r.lastUsedAt?.toISOString() ?? null,
  };
}
