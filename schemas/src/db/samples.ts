/** @module `samples`: where each sample of a version lives (shard and row), the index review and browsing use. */
import { index, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { datasetVersions } from "./dataset-versions";

export const samples = pgTable(
  "samples",
  {
    versionHash: text("version_hash")
      .notNull()
      .references(() => datasetVersions.hash, { onDelete: "cascade" }),
    sampleId: text("sample_id").notNull(),
    /** Position of the sample in the version (shard order, then row): the stable browse order. */
    position: integer("position").notNull(),
    contentHash: text("content_hash").notNull(),
    split: text("split").notNull(),
    source: text("source").notNull(),
    shardSha256: text("shard_sha256").notNull(),
    shardOrdinal: integer("shard_ordinal").notNull(),
    row: integer("row").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.versionHash, t.sampleId] }),
    // Browsing pages through a version (optionally one split or source) in position order.
    index("samples_browse_idx").on(t.versionHash, t.split, t.position),
    index("samples_source_idx").on(t.versionHash, t.source, t.position),
    // Diffing two versions joins on content hash.
    index("samples_content_idx").on(t.versionHash, t.contentHash),
  ],
);
