/**
 * @module `api_tokens` and `audit_log`: who may call the services, and what they did. Tokens are stored as
 * their sha256 only; the token itself is shown once, when it is created.
 */
import { bigserial, index, jsonb, pgEnum, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/** admin: everything; curator: datasets and review; reviewer: review; pipeline: runs jobs, publishes; trainer: reads. */
export const apiRole = pgEnum("api_role", ["admin", "curator", "reviewer", "pipeline", "trainer"]);

export const apiTokens = pgTable("api_tokens", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull(),
  role: apiRole("role").notNull(),
  tokenSha256: text("token_sha256").notNull().unique(),
  /** The token that created this one; null for tokens made on the command line. */
  createdBy: uuid("created_by"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  revokedAt: timestamp("revoked_at", { withTimezone: true }),
  lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
});

export const auditLog = pgTable(
  "audit_log",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
    /** The token that acted; null for the command line and for calls made with access control off. */
    tokenId: uuid("token_id"),
    /** The token's name then, or `cli`. */
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    /** What it acted on: the route's ids and hashes. */
    target: jsonb("target").$type<Record<string, string>>().notNull(),
    requestId: text("request_id"),
  },
  (t) => [index("audit_log_at_idx").on(t.at), index("audit_log_token_idx").on(t.tokenId, t.at)],
);
