/**
 * @module `training_runs`, `training_metrics`, `training_checkpoints` and `training_exports`: a training run
 * pinned to dataset version hashes (its spec, status, progress and the engine's last log lines), the metrics its
 * ranks report per step, the checkpoints they write, and the servable models exported from those checkpoints.
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
  uniqueIndex,
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

/** The tokenizer a run's data is tokenized with: its id and the SHA-256 of tokenizer.json + tokenizer_config.json. */
export type RunTokenizer = { id: string; sha256: string };

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
    /** Its model folder's own tokenizer, else Qwen3's; null on runs recorded before it was kept. */
    tokenizer: jsonb("tokenizer").$type<RunTokenizer>(),
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

/**
 * A checkpoint exported as a servable model (Hugging Face format: weights, config, generation config with the
 * stop ids, tokenizer files), by the trainer's CLI to a folder of its user's choice or over HTTP under
 * `TRAINER_DATA_DIR/exports`; with the Hub commit when it was pushed.
 */
export const trainingExports = pgTable(
  "training_exports",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    runId: uuid("run_id")
      .notNull()
      .references(() => trainingRuns.id, { onDelete: "cascade" }),
    step: integer("step").notNull(),
    /** The folder on the trainer's machine that holds it. */
    dir: text("dir").notNull(),
    /** The weights' dtype: `bfloat16` or `float32`. */
    dtype: text("dtype").notNull(),
    files: jsonb("files").$type<CheckpointFile[]>().notNull(),
    /** `owner/name` of the Hub model repo it was pushed to, and the commit. */
    hubRepo: text("hub_repo"),
    hubCommit: text("hub_commit"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("training_exports_dir_idx").on(t.dir),
    index("training_exports_run_idx").on(t.runId, t.step),
  ],
);
