/** @module `datasets`: a named collection of versions of one kind. */
import { pgEnum, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { datasetKinds } from "../samples";

export const datasetKind = pgEnum("dataset_kind", datasetKinds);

export const datasets = pgTable("datasets", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull().unique(),
  kind: datasetKind("kind").notNull(),
  description: text("description").notNull().default(""),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});
