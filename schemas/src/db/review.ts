/**
 * @module Review queues: a sample of a version's samples (or of what its filters dropped) handed to reviewers
 * one at a time under an expiring lease, each item decided by up to `k` different reviewers.
 */
import {
  bigserial,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";
import { datasetVersions } from "./dataset-versions";

export type ReviewPlan = {
  /** `none`: one uniform sample; else `size` items per value of the stratum. */
  strata: "none" | "source" | "filter-reason";
  size: number;
  seed: number;
};

export const reviewQueues = pgTable("review_queues", {
  id: uuid("id").primaryKey().defaultRandom(),
  versionHash: text("version_hash")
    .notNull()
    .references(() => datasetVersions.hash, { onDelete: "restrict" }),
  name: text("name").notNull(),
  plan: jsonb("plan").$type<ReviewPlan>().notNull(),
  /** Decisions wanted per item, each from a different reviewer. */
  reviewsPerItem: integer("reviews_per_item").notNull(),
  leaseSeconds: integer("lease_seconds").notNull(),
  items: integer("items").notNull(),
  createdBy: uuid("created_by"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const reviewItems = pgTable(
  "review_items",
  {
    queueId: uuid("queue_id")
      .notNull()
      .references(() => reviewQueues.id, { onDelete: "cascade" }),
    item: integer("item").notNull(),
    /** `sample`: a sample of the version; `rejected`: a record its pipeline dropped. */
    kind: text("kind").$type<"sample" | "rejected">().notNull(),
    sampleId: text("sample_id"),
    rejectedPosition: integer("rejected_position"),
    stratum: text("stratum").notNull(),
    decisions: integer("decisions").notNull().default(0),
    /** Who holds the item now, and until when: one reviewer at a time. */
    leaseHolder: text("lease_holder"),
    leaseExpires: timestamp("lease_expires", { withTimezone: true }),
  },
  (t) => [
    primaryKey({ columns: [t.queueId, t.item] }),
    index("review_items_next_idx").on(t.queueId, t.decisions, t.item),
  ],
);

export const reviewDecisions = pgTable(
  "review_decisions",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    queueId: uuid("queue_id")
      .notNull()
      .references(() => reviewQueues.id, { onDelete: "cascade" }),
    item: integer("item").notNull(),
    /** The reviewer: their token id (`local` with access control off). */
    reviewer: text("reviewer").notNull(),
    decision: text("decision").$type<"accept" | "reject">().notNull(),
    reasons: text("reasons").array().notNull().default([]),
    note: text("note").notNull().default(""),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [unique("review_decisions_once").on(t.queueId, t.item, t.reviewer)],
);
