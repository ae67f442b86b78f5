/**
 * @module `rejected_records`: every input record a version did not take as it was — malformed, filtered,
 * deduplicated or modified — with the step, the reason and the record, browsable like samples.
 */
import { customType, index, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { datasetVersions } from "./dataset-versions";

/**
 * `jsonb` read back as the driver parsed it. Drizzle's own `jsonb` parses a string value once more, so a record
 * kept as text that spells JSON (one nested too deep to store, kept as its JSON text) would come back as the
 * value it spells instead of the text.
 */
const jsonValue = customType<{ data: unknown; driverData: unknown }>({
  dataType: () => "jsonb",
  toDriver: (value) => JSON.stringify(value),
  fromDriver: (value) => value,
});

export const rejectedRecords = pgTable(
  "rejected_records",
  {
    versionHash: text("version_hash")
      .notNull()
      .references(() => datasetVersions.hash, { onDelete: "cascade" }),
    /** Order in the version's rejected file. */
    position: integer("position").notNull(),
    /** The step that decided (`input` for records that could not be read or validated). */
    step: text("step").notNull(),
    reason: text("reason").notNull(),
    /** `dropped`, or `modified` (the sample was kept changed; `record` is the original). */
    action: text("action").notNull(),
    location: text("location").notNull(),
    source: text("source").notNull(),
    message: text("message").notNull(),
    detail: jsonValue("detail"),
    record: jsonValue("record"),
  },
  (t) => [
    primaryKey({ columns: [t.versionHash, t.position] }),
    // Browsing one step's or one reason's records in order, and the per-reason histogram.
    index("rejected_records_step_idx").on(t.versionHash, t.step, t.reason, t.position),
    index("rejected_records_reason_idx").on(t.versionHash, t.reason, t.position),
  ],
);
