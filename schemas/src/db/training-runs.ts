/**
 * @module `training_runs`, `training_metrics` and `training_checkpoints`: a training run pinned to dataset
 * version hashes (its spec, status, progress and the engine's last log lines), the metrics its ranks report per
 * step, and the checkpoints they write.
 */
import {
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";
import type { DatasetRoles, TrainingRunSpec } from "../training";

/**
 * queued: waiting for the supervisor; running: an engine process works on it; cancelling: a cancel was asked
 * and the engine is being stopped; cancelled, failed, succeeded: finished (a failed or cancelled run resumes
 * from its last checkpoint).
 */
export const trainingStatus = pgEnum("training_status", [
  "queued",
  "running",
  "cancelling",
  "cancelled",
  "failed",
  "succeeded",
]);

export type TrainingProgress = {
  step: number;
  totalSteps: number;
  /** The latest rank-0 metrics, for listings. */
  metrics?: Record<string, number>;
  updatedAt: string;
};

export const trainingRuns = pgTable(
  "training_runs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name"),
    stage: text("stage").notNull(),
    spec: jsonb("spec").$type<TrainingRunSpec>().notNull(),
    /** The dataset versions the run consumes, by role: what it is pinned to. */
    datasets: jsonb("datasets").$type<DatasetRoles>().notNull(),
    specHash: text("spec_hash").notNull(),
    status: trainingStatus("status").notNull().default("queued"),
    progress: jsonb("progress").$type<TrainingProgress>(),
    error: text("error"),
    /** The engine's last output lines, kept when it fails. */
    logTail: text("log_tail"),
    /** Where the engine's full output is written. */
    logPath: text("log_path"),
    /** A secret the engine sends back as its bearer token; only its sha256 is stored. */
    engineTokenSha256: text("engine_token_sha256"),
    attempts: integer("attempts").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  // The supervisor picks queued runs oldest first; listings are newest first.
  (t) => [index("training_runs_status_idx").on(t.status, t.createdAt)],
);

export const trainingMetrics = pgTable(
  "training_metrics",
  {
    runId: uuid("run_id")
      .notNull()
      .references(() => trainingRuns.id, { onDelete: "cascade" }),
    step: integer("step").notNull(),
    rank: integer("rank").notNull(),
    metrics: jsonb("metrics").$type<Record<string, number>>().notNull(),
    loss: doublePrecision("loss"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.step, t.rank] })],
);

export type CheckpointFile = { name: string; sha256: string; bytes: number };

export const trainingCheckpoints = pgTable(
  "training_checkpoints",
  {
    runId: uuid("run_id")
      .notNull()
      .references(() => trainingRuns.id, { onDelete: "cascade" }),
    step: integer("step").notNull(),
    path: text("path").notNull(),
    files: jsonb("files").$type<CheckpointFile[]>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.step] })],
);
