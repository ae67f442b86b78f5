/**
 * @module `page_sessions`: sign-ins to the review page. The browser's cookie holds a random session id, stored
 * here as its sha256 only, with the API token the reviewer signed in with and when the session expires.
 * Signing out deletes the row, and a session counts only while its token is not revoked.
 */
import { index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { apiTokens } from "./access";

export const pageSessions = pgTable(
  "page_sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    sessionSha256: text("session_sha256").notNull().unique(),
    tokenId: uuid("token_id")
      .notNull()
      .references(() => apiTokens.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [index("page_sessions_token_idx").on(t.tokenId), index("page_sessions_expires_idx").on(t.expiresAt)],
);
