/** @module `hub_pushes`: each push of a dataset version to a Hugging Face Hub repo, with the commit it made. */
import { index, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { datasetVersions } from "./dataset-versions";

export const hubPushes = pgTable(
  "hub_pushes",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    versionHash: text("version_hash")
      .notNull()
      .references(() => datasetVersions.hash, { onDelete: "restrict" }),
    /** The Hub's base URL (`HF_ENDPOINT`), so pushes to a private Hub and to huggingface.co stay apart. */
    endpoint: text("endpoint").notNull(),
    /** `owner/name` of the dataset repo. */
    repo: text("repo").notNull(),
    branch: text("branch").notNull(),
    /** The Hub commit that holds the version's files. */
    commitSha: text("commit_sha").notNull(),
    commitUrl: text("commit_url"),
    /** Repo paths committed, with their sha256 and size. */
    files: jsonb("files").$type<{ path: string; sha256: string; bytes: number }[]>().notNull(),
    pushedAt: timestamp("pushed_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("hub_pushes_version_idx").on(t.versionHash, t.pushedAt)],
);
