/**
 * @module `pipeline_runs` and `pipeline_units`: a pipeline run as a job (its spec, status and progress) and
 * the units of work it has finished, which are what a resumed run skips.
 */
import {
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
import type { PipelineProgress, PipelineSpec, StepStats } from "../pipeline";
import { datasetVersions } from "./dataset-versions";

/**
 * queued: waiting for a worker; running: a worker holds it (its heartbeat says it is alive); cancelling: a
 * cancel was asked and the worker stops at its next unit; cancelled, failed, succeeded: finished.
 */
export const runStatus = pgEnum("run_status", [
  "queued",
  "running",
  "cancelling",
  "cancelled",
  "failed",
  "succeeded",
]);

/**
 * Who queued a run: `operator`, the command line on the curator's own machine, whose sources read whatever its
 * user may; `api`, a request over HTTP, whose sources are confined to the configured source folders. A run is
 * confined unless it says `operator`.
 */
export const runOrigin = pgEnum("run_origin", ["api", "operator"]);

/** A run's progress as stored: the runner's, the phases around it, and when it was written. */
export type RunProgress = Omit<PipelineProgress, "phase"> & {
  phase: PipelineProgress["phase"] | "queued" | "done";
  updatedAt: string;
};

export const pipelineRuns = pgTable(
  "pipeline_runs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    pipeline: text("pipeline").notNull(),
    dataset: text("dataset").notNull(),
    spec: jsonb("spec").$type<PipelineSpec>().notNull(),
    configHash: text("config_hash").notNull(),
    /** Commit the version once built (otherwise it stays a draft). */
    commit: integer("commit").notNull().default(1),
    status: runStatus("status").notNull().default("queued"),
    origin: runOrigin("origin").notNull().default("api"),
    progress: jsonb("progress").$type<RunProgress>(),
    versionHash: text("version_hash").references(() => datasetVersions.hash, { onDelete: "set null" }),
    error: text("error"),
    /** The process working on the run (host:pid:random), and when it last said it was alive. */
    worker: text("worker"),
    heartbeatAt: timestamp("heartbeat_at", { withTimezone: true }),
    attempts: integer("attempts").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  // Workers look for runs to pick up or recover by status; listings are newest first.
  (t) => [index("pipeline_runs_status_idx").on(t.status, t.createdAt)],
);

export type UnitCounts = {
  records: number;
  bytes: number;
  kept: number;
  rejected: number;
  steps: StepStats[];
};

export const pipelineUnits = pgTable(
  "pipeline_units",
  {
    runId: uuid("run_id")
      .notNull()
      .references(() => pipelineRuns.id, { onDelete: "cascade" }),
    /** Units are numbered in source order; a unit is `records` records of one source from `firstRecord`. */
    unit: integer("unit").notNull(),
    source: integer("source").notNull(),
    firstRecord: integer("first_record").notNull(),
    records: integer("records").notNull(),
    /** The unit's output file (kept and rejected records) in the run's scratch folder, and its sha256. */
    outputPath: text("output_path").notNull(),
    outputSha256: text("output_sha256").notNull(),
    counts: jsonb("counts").$type<UnitCounts>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.unit] })],
);
