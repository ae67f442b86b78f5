/**
 * @module Training runs in Postgres: created from a validated spec pinned to registry versions, listed, read
 * with their metrics and checkpoints, cancelled and resumed; and what engine ranks report (metrics,
 * checkpoints, status) recorded against them.
 */
import { randomBytes } from "node:crypto";
import type { Database } from "@sovereign/db";
import { notFound, ServiceError } from "@sovereign/http";
import { type TrainingRunSpec, tables } from "@sovereign/schemas";
import { canonicalJson, sha256Hex } from "@sovereign/shards";
import { TeacherEndpoints, type TeacherTarget } from "@sovereign/teacher";
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { exportSummary, type ModelExport } from "./export";
import { runTokenizer } from "./run-tokenizer";
import { pinnedToolCorpus, pinnedVersions, type VersionSource } from "./versions";

const { trainingRuns, trainingMetrics, trainingCheckpoints, trainingExports } = tables;
export type TrainingRunRow = typeof trainingRuns.$inferSelect;
export type TrainingStatus = TrainingRunRow["status"];
export type CheckpointRow = typeof trainingCheckpoints.$inferSelect;

export type RunSummary = {
  id: string;
  name: string | null;
  stage: string;
  status: TrainingStatus;
  datasets: TrainingRunRow["datasets"];
  specHash: string;
  /** The tokenizer its data is tokenized with (null on runs recorded before it was kept). */
  tokenizer: TrainingRunRow["tokenizer"];
  progress: TrainingRunRow["progress"];
  error: string | null;
  attempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
};

export type RunDetail = RunSummary & {
  spec: TrainingRunSpec;
  logTail: string | null;
  /** The engine's log of the latest attempt on the trainer's host (several ranks: their files under `ranks-N/`). */
  logPath: string | null;
  checkpoints: { step: number; path: string; files: CheckpointRow["files"]; createdAt: string }[];
  /** Servable models exported from its checkpoints (`trainer export`, `POST /v1/training/runs/{id}/export`). */
  exports: ModelExport[];
  metrics: { step: number; rank: number; metrics: Record<string, number> }[];
};

const FINISHED: TrainingStatus[] = ["cancelled", "failed", "succeeded"];

export function summary(r: TrainingRunRow): RunSummary {
  return {
    id: r.id,
    name: r.name,
    stage: r.stage,
    status: r.status,
    datasets: r.datasets,
    specHash: r.specHash,
    tokenizer: r.tokenizer,
    progress: r.progress,
    error: r.error,
    attempts: r.attempts,
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}

export class TrainingRuns {
  constructor(
    private readonly db: Database,
    private readonly versions: VersionSource = { db },
    private readonly teachers: TeacherEndpoints = new TeacherEndpoints(),
  ) {}

  /**
   * Queue a run; every dataset hash must be a committed or published registry version of the right kind, and a
   * teacher endpoint one the operator configured.
   */
  async create(spec: TrainingRunSpec): Promise<RunSummary> {
    this.servedTeacher(spec);
    await pinnedVersions(this.versions, spec.datasets);
    await pinnedToolCorpus(this.versions, spec);
    const tokenizer = await runTokenizer(spec.model).catch((error: unknown) => {
      throw new ServiceError("BAD_REQUEST", `model.path: ${(error as Error).message}`);
    });
    const [row] = await this.db
      .insert(trainingRuns)
      .values({
        name: spec.name ?? null,
        stage: spec.stage,
        spec,
        datasets: spec.datasets,
        specHash: sha256Hex(canonicalJson(spec)),
        tokenizer: { id: tokenizer.id, sha256: tokenizer.hash },
        status: "queued",
        progress: { step: 0, totalSteps: spec.hyper.totalSteps, updatedAt: new Date().toISOString() },
      })
      .returning();
    if (!row) throw new Error("the run was not recorded");
    return summary(row);
  }

  /**
   * The endpoint serving the spec's teacher, with its key and the model asked for (the spec's, else the endpoint's);
   * undefined when the teacher is a model. An endpoint the configuration lacks, or one without a model when the
   * spec names none, is refused naming the field.
   */
  servedTeacher(spec: TrainingRunSpec): TeacherTarget | undefined {
    if (!spec.teacher || !("endpoint" in spec.teacher)) return undefined;
    const { endpoint: name, model } = spec.teacher;
    const endpoint = this.teachers.get(name);
    if (!endpoint) {
      const known = this.teachers.names;
      throw new ServiceError(
        "BAD_REQUEST",
        `teacher.endpoint: no teacher endpoint ${JSON.stringify(name)} is configured (TRAINER_TEACHER_ENDPOINTS ${known.length ? `has ${known.join(", ")}` : "names none"})`,
      );
    }
    const asked = model ?? endpoint.model;
    if (!asked)
      throw new ServiceError(
        "BAD_REQUEST",
        `teacher.model: endpoint ${name} configures no model; name the one it serves the teacher as`,
      );
    return this.teachers.target(name, asked);
  }

  async list(options: { status?: TrainingStatus; limit?: number } = {}): Promise<RunSummary[]> {
    const rows = await this.db
      .select()
      .from(trainingRuns)
      .where(options.status ? eq(trainingRuns.status, options.status) : undefined)
      .orderBy(desc(trainingRuns.createdAt), asc(trainingRuns.id))
      .limit(options.limit ?? 100);
    return rows.map(summary);
  }

  async row(id: string): Promise<TrainingRunRow> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw notFound(`training run ${id}`);
    const [row] = await this.db.select().from(trainingRuns).where(eq(trainingRuns.id, id));
    if (!row) throw notFound(`training run ${id}`);
    return row;
  }

  /** A run with its checkpoints and its metrics (every step, or the last `metricsLimit`). */
  async get(id: string, metricsLimit = 1000): Promise<RunDetail> {
    const row = await this.row(id);
    const checkpoints = await this.checkpoints(id);
    const metrics = await this.db
      .select()
      .from(trainingMetrics)
      .where(eq(trainingMetrics.runId, id))
      .orderBy(desc(trainingMetrics.step), asc(trainingMetrics.rank))
      .limit(metricsLimit);
    return {
      ...summary(row),
      spec: row.spec,
      logTail: row.logTail,
      logPath: row.logPath,
      checkpoints: checkpoints.map((c) => ({
        step: c.step,
        path: c.path,
        files: c.files,
        createdAt: c.createdAt.toISOString(),
      })),
      exports: (
        await this.db
          .select()
          .from(trainingExports)
          .where(eq(trainingExports.runId, id))
          .orderBy(asc(trainingExports.createdAt))
      ).map(exportSummary),
      metrics: metrics.reverse().map((m) => ({ step: m.step, rank: m.rank, metrics: m.metrics })),
    };
  }

  async checkpoints(id: string): Promise<CheckpointRow[]> {
    return this.db
      .select()
      .from(trainingCheckpoints)
      .where(eq(trainingCheckpoints.runId, id))
      .orderBy(asc(trainingCheckpoints.step));
  }

  /** Ask a run to stop: a queued run is cancelled at once, a running one when its engine has stopped. */
  async cancel(id: string): Promise<RunSummary> {
    const row = await this.row(id);
    if (FINISHED.includes(row.status))
      throw new ServiceError("CONFLICT", `training run ${id} is already ${row.status}`);
    const status: TrainingStatus = row.status === "queued" ? "cancelled" : "cancelling";
    const [updated] = await this.db
      .update(trainingRuns)
      .set({ status, ...(status === "cancelled" ? { finishedAt: new Date() } : {}) })
      .where(and(eq(trainingRuns.id, id), inArray(trainingRuns.status, ["queued", "running"])))
      .returning();
    return summary(updated ?? (await this.row(id)));
  }

  /** Queue a cancelled or failed run again; it continues from its last checkpoint. */
  async resume(id: string): Promise<RunSummary> {
    const row = await this.row(id);
    if (row.status !== "cancelled" && row.status !== "failed")
      throw new ServiceError(
        "CONFLICT",
        `training run ${id} is ${row.status}; only cancelled or failed runs resume`,
      );
    const [updated] = await this.db
      .update(trainingRuns)
      .set({ status: "queued", error: null, finishedAt: null })
      .where(and(eq(trainingRuns.id, id), inArray(trainingRuns.status, ["cancelled", "failed"])))
      .returning();
    if (!updated) throw new ServiceError("CONFLICT", `training run ${id} changed while resuming`);
    return summary(updated);
  }

  /** The oldest queued run, claimed for an engine: running, a new engine token (returned once), one more attempt. */
  async claimNext(): Promise<{ row: TrainingRunRow; token: string } | undefined> {
    const [next] = await this.db
      .select({ id: trainingRuns.id })
      .from(trainingRuns)
      .where(eq(trainingRuns.status, "queued"))
      .orderBy(asc(trainingRuns.createdAt))
      .limit(1);
    if (!next) return undefined;
    const token = randomBytes(24).toString("base64url");
    const [row] = await this.db
      .update(trainingRuns)
      .set({
        status: "running",
        startedAt: new Date(),
        engineTokenSha256: tokenHash(token),
        attempts: sql`${trainingRuns.attempts} + 1`,
        logTail: null,
      })
      .where(and(eq(trainingRuns.id, next.id), eq(trainingRuns.status, "queued")))
      .returning();
    return row ? { row, token } : undefined;
  }

  async finish(
    id: string,
    status: "succeeded" | "failed" | "cancelled",
    detail: { error?: string; logTail?: string },
  ) {
    await this.db
      .update(trainingRuns)
      .set({
        status,
        finishedAt: new Date(),
        error: detail.error ?? null,
        ...(detail.logTail !== undefined ? { logTail: detail.logTail } : {}),
        engineTokenSha256: null,
      })
      .where(eq(trainingRuns.id, id));
  }

  /** Back to the queue (the service stopped under it); the next attempt resumes from the last checkpoint. */
  async requeue(id: string, logTail: string) {
    await this.db
      .update(trainingRuns)
      .set({ status: "queued", logTail, engineTokenSha256: null })
      .where(eq(trainingRuns.id, id));
  }

  /**
   * Runs a previous trainer process left running or cancelling when it died: one trainer service works on a
   * database, so at its start no engine of its own runs them. Running ones are queued again, cancelling ones
   * are cancelled.
   */
  async recoverOrphans(): Promise<void> {
    await this.db
      .update(trainingRuns)
      .set({ status: "queued", engineTokenSha256: null })
      .where(eq(trainingRuns.status, "running"));
    await this.db
      .update(trainingRuns)
      .set({ status: "cancelled", finishedAt: new Date(), engineTokenSha256: null })
      .where(eq(trainingRuns.status, "cancelling"));
  }

  async setLogPath(id: string, logPath: string) {
    await this.db.update(trainingRuns).set({ logPath }).where(eq(trainingRuns.id, id));
  }

  /** Whether `token` is the engine token of this run's current attempt. */
  async checkEngineToken(id: string, token: string | undefined): Promise<TrainingRunRow> {
    const row = await this.row(id);
    if (!token || !row.engineTokenSha256 || tokenHash(token) !== row.engineTokenSha256)
      throw new ServiceError("UNAUTHORIZED", `no valid engine token for training run ${id}`);
    return row;
  }

  /** A rank's metrics for a step; rank 0's also become the run's progress (out of `totalSteps`). */
  async recordMetrics(
    id: string,
    step: number,
    rank: number,
    metrics: Record<string, number>,
    totalSteps: number,
  ) {
    await this.db
      .insert(trainingMetrics)
      .values({ runId: id, step, rank, metrics, loss: metrics.loss ?? null })
      .onConflictDoUpdate({
        target: [trainingMetrics.runId, trainingMetrics.step, trainingMetrics.rank],
        set: { metrics, loss: metrics.loss ?? null },
      });
    if (rank === 0)
      await this.db
        .update(trainingRuns)
        .set({ progress: { step, totalSteps, metrics, updatedAt: new Date().toISOString() } })
        .where(eq(trainingRuns.id, id));
  }

  async recordCheckpoint(id: string, step: number, path: string, files: CheckpointRow["files"]) {
    await this.db
      .insert(trainingCheckpoints)
      .values({ runId: id, step, path, files })
      .onConflictDoUpdate({
        target: [trainingCheckpoints.runId, trainingCheckpoints.step],
        set: { path, files, createdAt: new Date() },
      });
  }
}

export function tokenHash(token: string): string {
  return sha256Hex(token);
}
