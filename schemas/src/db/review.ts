/**
 * @module Review queues: a sample of a version's samples (or of what its filters dropped) handed to reviewers
 * one at a time under an expiring lease, each item decided by up to `k` different reviewers.
 */

import { sql } from "drizzle-orm";
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

export const reviewStrata = ["none", "source", "constraint-type", "filter-reason", "cluster"] as const;
export type ReviewStrata = (typeof reviewStrata)[number];

export type ReviewPlan = {
  /**
   * `none`: one uniform sample; else `size` items per value of the stratum: the sample's `source`, its
   * constraint types (`constraint-type`, from `meta.autoif.constraints`), the step and reason of a dropped
   * record (`filter-reason`), or the near-duplicate cluster of a record deduplication dropped (`cluster`, named by the sample kept for it).
   */
  strata: ReviewStrata;
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
    // The item a reviewer holds (`next` renews it): only held items are in it, a handful per queue.
    index("review_items_holder_idx").on(t.queueId, t.leaseHolder).where(sql`${t.leaseHolder} IS NOT NULL`),
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
    /** `edit`: kept with the reviewer's changes, in the sample revision this decision made. */
    decision: text("decision").$type<"accept" | "reject" | "edit">().notNull(),
    revision: integer("revision"),
    reasons: text("reasons").array().notNull().default([]),
    note: text("note").notNull().default(""),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [unique("review_decisions_once").on(t.queueId, t.item, t.reviewer)],
);

/**
 * Reviewers' edits of a version's samples: revision 1, 2, … of a sample (revision 0 is the sample as the
 * version holds it, which stays). An edit names the revision it changed, so no edit is lost to another.
 */
export const sampleRevisions = pgTable(
  "sample_revisions",
  {
    versionHash: text("version_hash")
      .notNull()
      .references(() => datasetVersions.hash, { onDelete: "restrict" }),
    sampleId: text("sample_id").notNull(),
    revision: integer("revision").notNull(),
    sample: jsonb("sample").notNull(),
    queueId: uuid("queue_id")
      .notNull()
      .references(() => reviewQueues.id, { onDelete: "cascade" }),
    item: integer("item").notNull(),
    reviewer: text("reviewer").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.versionHash, t.sampleId, t.revision] })],
);

/** Published versions made from a review queue: the lineage from parent and queue to the published version. */
export const publications = pgTable("publications", {
  versionHash: text("version_hash")
    .primaryKey()
    .references(() => datasetVersions.hash, { onDelete: "restrict" }),
  parentHash: text("parent_hash")
    .notNull()
    .references(() => datasetVersions.hash, { onDelete: "restrict" }),
  queueId: uuid("queue_id")
    .notNull()
    .references(() => reviewQueues.id, { onDelete: "restrict" }),
  /** What review changed: samples removed and edited, and the queue's acceptance. */
  summary: jsonb("summary").$type<{ removed: number; edited: number; acceptance: number }>().notNull(),
  publishedBy: uuid("published_by"),
  publishedAt: timestamp("published_at", { withTimezone: true }).notNull().defaultNow(),
});
