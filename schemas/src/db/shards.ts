/** @module `shards`: the Parquet files of a version, each named by the sha256 of its bytes. */
import { bigint, index, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { datasetVersions } from "./dataset-versions";

export const shards = pgTable(
  "shards",
  {
    versionHash: text("version_hash")
      .notNull()
      .references(() => datasetVersions.hash, { onDelete: "cascade" }),
    /** Position of the shard in the manifest. */
    ordinal: integer("ordinal").notNull(),
    path: text("path").notNull(),
    split: text("split").notNull(),
    sha256: text("sha256").notNull(),
    bytes: bigint("bytes", { mode: "number" }).notNull(),
    rows: integer("rows").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.versionHash, t.ordinal] }),
    // Downloads address a shard by its hash; one blob can belong to several versions.
    index("shards_sha256_idx").on(t.sha256),
  ],
);
