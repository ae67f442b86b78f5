/**
 * @module Pipeline runs as jobs: a run is a row in `pipeline_runs` and a pg-boss job on the same database
 * (PostgreSQL, or PGlite for the embedded default). A worker claims a run, beats a heartbeat while it works,
 * saves each finished unit, and stops at the next unit when the run is cancelled. A run whose worker died
 * (no heartbeat for `staleSeconds`) is queued again and resumes from its last finished unit.
 *
 * pg-boss rather than graphile-worker: pg-boss accepts a caller's SQL executor, so the same queue runs on
 * the embedded PGlite, which has no network socket for graphile-worker's `pg` pool to connect to. On
 * PostgreSQL it connects on its own.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { DatabaseHandle } from "@sovereign/db";
import {
  type CompletedUnit,
  ErrorBudgetError,
  PipelineCancelledError,
  type PriorIndex,
  removeRunScratch,
  resolveTeacherEndpoints,
  runPipeline,
  signatureFromBytes,
  specProblems,
} from "@sovereign/pipeline";
import { type PipelineProgress, PipelineSpec, type PipelineSpecInput, tables } from "@sovereign/schemas";
import { canonicalJson, sha256Hex } from "@sovereign/shards";
import { type RecordReader, sourcePathProblems } from "@sovereign/sources";
import type { TeacherEndpoints } from "@sovereign/teacher";
import { and, desc, eq, inArray, lt, notInArray, or, sql } from "drizzle-orm";
import PgBoss from "pg-boss";
import type { CuratorConfig } from "./config";
import { CuratorError, notFound } from "./errors";
import type { Logger } from "./logger";
import type { Registry } from "./registry";

const {
  pipelineRuns,
  pipelineUnits,
  datasets,
  datasetVersions,
  dedupExactKeys,
  dedupBands,
  dedupSignatures,
} = tables;
type RunRow = typeof pipelineRuns.$inferSelect;
/** Who queued a run: the command line on this machine (`operator`), or a request over HTTP (`api`). */
export type RunOrigin = RunRow["origin"];
export type RunProgress = tables.RunProgress;

export const RUN_QUEUE = "pipeline-run";

export type RunInfo = {
  id: string;
  pipeline: string;
  dataset: string;
  configHash: string;
  status: RunRow["status"];
  origin: RunOrigin;
  commit: boolean;
  progress: RunProgress | null;
  versionHash: string | null;
  error: string | null;
  attempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
};

function toRunInfo(r: RunRow): RunInfo {
  return {
    id: r.id,
    pipeline: r.pipeline,
    dataset: r.dataset,
    configHash: r.configHash,
    status: r.status,
    origin: r.origin,
    commit: r.commit === 1,
    progress: r.progress ?? null,
    versionHash: r.versionHash,
    error: r.error,
    attempts: r.attempts,
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}

export type RunManagerOptions = {
  config: CuratorConfig;
  database: DatabaseHandle;
  registry: Registry;
  logger: Logger;
  /** Pipelines runnable by name. */
  pipelines: Record<string, PipelineSpecInput>;
  /** Source formats beyond the built-in ones (the legal parsers). */
  formats: Record<string, RecordReader>;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class RunManager {
  private boss: PgBoss | undefined;
  private readonly workerId = `${process.pid}-${randomBytes(4).toString("hex")}`;
  private readonly active = new Map<string, AbortController>();
  private working = false;
  private recovery: NodeJS.Timeout | undefined;

  constructor(private readonly options: RunManagerOptions) {}

  private get db() {
    return this.options.database.db;
  }

  /** Open the queue (pg-boss creates its schema on first start). */
  async start(): Promise<void> {
    if (this.boss) return;
    const database = this.options.database;
    // PostgreSQL: pg-boss keeps its own small pool (its transactions span statements a shared pool may split).
    // PGlite: one connection in this process, which pg-boss reaches through the handle's executor.
    const connection = database.url
      ? { connectionString: database.url, max: 2 }
      : { db: { executeSql: (text: string, values?: unknown[]) => database.executeSql(text, values) } };
    const boss = new PgBoss({
      ...connection,
      schema: "pgboss",
      // Maintenance (archiving, deleting old jobs) every few minutes; runs keep their own history.
      maintenanceIntervalSeconds: 300,
    } as ConstructorParameters<typeof PgBoss>[0]);
    boss.on("error", (error) => this.options.logger.error({ err: error }, "job queue error"));
    await boss.start();
    await boss.createQueue(RUN_QUEUE).catch(() => {});
    this.boss = boss;
  }

  /** Start taking runs from the queue in this process, after queueing again the runs whose worker died. */
  async work(): Promise<void> {
    await this.start();
    if (this.working) return;
    this.working = true;
    await this.recover({ atStart: true });
    // Another worker may die while this one lives: look for its runs as often as a run can go stale.
    this.recovery = setInterval(() => {
      this.recover().catch((error) => this.options.logger.error({ err: error }, "recovering runs failed"));
    }, this.options.config.staleSeconds * 1000);
    this.recovery.unref();
    await this.boss?.work<{ runId: string }>(
      RUN_QUEUE,
      { batchSize: 1, pollingIntervalSeconds: 0.5 },
      async ([job]) => {
        if (job) await this.execute(job.data.runId);
      },
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.recovery);
    for (const controller of this.active.values()) controller.abort();
    await this.boss?.stop({ graceful: true, wait: true, timeout: 10_000 }).catch(() => {});
    this.boss = undefined;
    this.working = false;
  }

  pipelineNames(): string[] {
    return Object.keys(this.options.pipelines).sort();
  }

  /** A named pipeline's spec, validated (the same check a run makes). */
  pipelineSpec(name: string): PipelineSpec {
    const input = this.options.pipelines[name];
    if (!input) throw notFound(`pipeline ${name} (known: ${this.pipelineNames().join(", ") || "none"})`);
    return parseSpec(input);
  }

  /**
   * Queue a run of a named pipeline or of a spec given inline. Unless the operator queues it (`origin`
   * `operator`, the command line), its sources are confined to the source roots: a path that names a place
   * outside them is refused here, and links are judged when the run reads them.
   */
  async submit(request: {
    pipeline?: string;
    spec?: unknown;
    commit?: boolean;
    origin?: RunOrigin;
  }): Promise<RunInfo> {
    if ((request.pipeline === undefined) === (request.spec === undefined))
      throw new CuratorError("BAD_REQUEST", "give either a pipeline name or a spec");
    const spec = withTeacherEndpoints(
      request.pipeline !== undefined ? this.pipelineSpec(request.pipeline) : parseSpec(request.spec),
      this.options.config.teachers,
    );
    const origin = request.origin ?? "api";
    const roots = this.sourceRoots(origin);
    const outside = spec.sources.flatMap((source, i) =>
      source.type === "files"
        ? sourcePathProblems(source, { baseDir: this.options.config.sourcesDir, roots }).map(
            (p) => `  sources.${i}.paths.${p.index}: ${p.message}`,
          )
        : [],
    );
    if (outside.length)
      throw new CuratorError(
        "BAD_REQUEST",
        `pipeline ${spec.name} reads outside the folders a run queued over HTTP may read:\n${outside.join("\n")}`,
      );
    for (const source of spec.sources) {
      if (source.type !== "dataset") continue;
      source.version = await this.options.registry.pinDatasetSource(source);
      if (!spec.parents.includes(source.version)) spec.parents.push(source.version);
    }
    for (const name of spec.parentsFrom) {
      const latest = await this.options.registry.latestVersion(name, ["committed", "published"]);
      if (!latest)
        throw new CuratorError(
          "CONFLICT",
          `pipeline ${spec.name} derives from dataset ${name}, which has no committed version yet: build it first`,
        );
      if (!spec.parents.includes(latest)) spec.parents.push(latest);
    }
    await this.options.registry.ensureDataset({
      name: spec.dataset.name,
      kind: spec.dataset.kind,
      description: spec.dataset.description,
    });
    const [row] = await this.db
      .insert(pipelineRuns)
      .values({
        pipeline: spec.name,
        dataset: spec.dataset.name,
        spec,
        configHash: sha256Hex(canonicalJson(spec)),
        commit: request.commit === false ? 0 : 1,
        status: "queued",
        origin,
      })
      .returning();
    if (!row) throw new Error("the run was not recorded");
    await this.enqueue(row.id);
    return toRunInfo(row);
  }

  private async enqueue(runId: string): Promise<void> {
    await this.start();
    // Expiry only frees pg-boss's own slot; the run's liveness is its heartbeat, and a claim refuses a live run.
    await this.boss?.send(RUN_QUEUE, { runId }, { expireInSeconds: 6 * 3600, retryLimit: 0 });
  }

  async get(id: string): Promise<RunInfo> {
    return toRunInfo(await this.row(id));
  }

  private async row(id: string): Promise<RunRow> {
    if (!UUID.test(id)) throw new CuratorError("BAD_REQUEST", `run id ${JSON.stringify(id)} is not a UUID`);
    const [row] = await this.db.select().from(pipelineRuns).where(eq(pipelineRuns.id, id));
    if (!row) throw notFound(`run ${id}`);
    return row;
  }

  async list(query: { status?: RunRow["status"]; limit?: number } = {}): Promise<RunInfo[]> {
    const rows = await this.db
      .select()
      .from(pipelineRuns)
      .where(query.status ? eq(pipelineRuns.status, query.status) : undefined)
      .orderBy(desc(pipelineRuns.createdAt))
      .limit(query.limit ?? 50);
    return rows.map(toRunInfo);
  }

  /** Ask a run to stop: a queued run stops at once, a running one at its next unit. */
  async cancel(id: string): Promise<RunInfo> {
    const row = await this.row(id);
    if (row.status === "queued") {
      await this.db
        .update(pipelineRuns)
        .set({ status: "cancelled", finishedAt: new Date() })
        .where(and(eq(pipelineRuns.id, id), eq(pipelineRuns.status, "queued")));
    } else if (row.status === "running") {
      await this.db
        .update(pipelineRuns)
        .set({ status: "cancelling" })
        .where(and(eq(pipelineRuns.id, id), eq(pipelineRuns.status, "running")));
      this.active.get(id)?.abort();
    } else if (row.status !== "cancelling") {
      throw new CuratorError(
        "CONFLICT",
        `run ${id} has already ${row.status === "cancelled" ? "been cancelled" : row.status}`,
      );
    }
    return this.get(id);
  }

  /** Queue a cancelled or failed run again: it goes on from its last finished unit. */
  async resume(id: string): Promise<RunInfo> {
    const row = await this.row(id);
    if (row.status !== "cancelled" && row.status !== "failed")
      throw new CuratorError(
        "CONFLICT",
        `run ${id} is ${row.status}: only a cancelled or failed run can be resumed`,
      );
    await this.db
      .update(pipelineRuns)
      .set({ status: "queued", error: null, finishedAt: null })
      .where(eq(pipelineRuns.id, id));
    await this.enqueue(id);
    return this.get(id);
  }

  /** Resolve once the run has finished (succeeded, failed or cancelled). */
  async waitFor(id: string, onProgress?: (run: RunInfo) => void, pollMs = 250): Promise<RunInfo> {
    for (;;) {
      const run = await this.get(id);
      onProgress?.(run);
      if (run.status === "succeeded" || run.status === "failed" || run.status === "cancelled") return run;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /**
   * Runs left `running` or `cancelling` by a worker that stopped beating (killed, crashed, machine lost) are
   * queued again; their finished units stay, so they resume where they were.
   */
  async recover(options: { atStart?: boolean } = {}): Promise<string[]> {
    const stale = new Date(Date.now() - this.options.config.staleSeconds * 1000);
    // PGlite belongs to this one process: at start, any run it shows as running was left by an earlier one.
    const everyRunning = options.atStart === true && this.options.database.kind === "pglite";
    const mine = [...this.active.keys()];
    const orphaned = await this.db
      .update(pipelineRuns)
      .set({
        status: sql`CASE WHEN ${pipelineRuns.status} = 'cancelling' THEN 'cancelled'::run_status ELSE 'queued'::run_status END`,
        worker: null,
      })
      .where(
        and(
          inArray(pipelineRuns.status, ["running", "cancelling"]),
          everyRunning
            ? undefined
            : or(lt(pipelineRuns.heartbeatAt, stale), sql`${pipelineRuns.heartbeatAt} IS NULL`),
          // A run this process is working on is alive, however late its heartbeat (a long step in this thread).
          mine.length ? notInArray(pipelineRuns.id, mine) : undefined,
        ),
      )
      .returning();
    const requeued: string[] = [];
    for (const run of orphaned) {
      if (run.status !== "queued") continue;
      this.options.logger.warn({ run: run.id }, "run left by a stopped worker: queued again to resume");
      await this.enqueue(run.id);
      requeued.push(run.id);
    }
    return requeued;
  }

  /** Claim the run for this worker; false when it is finished or another live worker has it. */
  private async claim(id: string): Promise<RunRow | undefined> {
    const stale = new Date(Date.now() - this.options.config.staleSeconds * 1000);
    const [row] = await this.db
      .update(pipelineRuns)
      .set({
        status: "running",
        worker: this.workerId,
        heartbeatAt: new Date(),
        attempts: sql`${pipelineRuns.attempts} + 1`,
        startedAt: sql`coalesce(${pipelineRuns.startedAt}, now())`,
      })
      .where(
        and(
          eq(pipelineRuns.id, id),
          or(
            eq(pipelineRuns.status, "queued"),
            and(eq(pipelineRuns.status, "running"), lt(pipelineRuns.heartbeatAt, stale)),
          ),
        ),
      )
      .returning();
    return row;
  }

  /** Work on one run until it finishes, fails or is cancelled. */
  async execute(id: string): Promise<void> {
    const row = await this.claim(id);
    if (!row) return;
    const { config, registry, logger } = this.options;
    let spec: PipelineSpec;
    try {
      spec = parseSpec(row.spec);
    } catch (error) {
      // A spec stored by an older release that this one refuses: the run fails saying why, instead of staying
      // "running" and being queued again by recovery for ever.
      await this.db
        .update(pipelineRuns)
        .set({ status: "failed", error: (error as Error).message, finishedAt: new Date() })
        .where(and(eq(pipelineRuns.id, id), eq(pipelineRuns.worker, this.workerId)));
      logger.error({ run: id, err: error }, "pipeline run refused: its stored spec is not valid here");
      return;
    }
    const controller = new AbortController();
    this.active.set(id, controller);
    const scratchDir = join(config.scratchDir, "runs", id);
    let latest: PipelineProgress | undefined;
    let lastWrite = 0;
    let beating: Promise<void> = Promise.resolve();
    const beat = async () => {
      const progress = latest ? toRunProgress(latest) : undefined;
      const [current] = await this.db
        .update(pipelineRuns)
        .set({ heartbeatAt: new Date(), ...(progress ? { progress } : {}) })
        .where(and(eq(pipelineRuns.id, id), eq(pipelineRuns.worker, this.workerId)))
        .returning({ status: pipelineRuns.status });
      // Cancelled through another process, or taken over after this worker was thought dead.
      if (!current || current.status === "cancelling") controller.abort();
    };
    const timer = setInterval(() => {
      beating = beating
        .then(beat)
        .catch((error) => logger.error({ err: error, run: id }, "heartbeat failed"));
    }, config.heartbeatSeconds * 1000);
    logger.info({ run: id, pipeline: spec.name, attempt: row.attempts }, "pipeline run started");
    try {
      const units = {
        completed: async (): Promise<CompletedUnit[]> => {
          const rows = await this.db.select().from(pipelineUnits).where(eq(pipelineUnits.runId, id));
          return rows.map((u) => ({ ...u, counts: u.counts as CompletedUnit["counts"] }));
        },
        save: async (unit: CompletedUnit) => {
          await this.db
            .insert(pipelineUnits)
            .values({ runId: id, ...unit })
            .onConflictDoNothing();
        },
      };
      const roots = this.sourceRoots(row.origin);
      const result = await runPipeline({
        spec,
        baseDir: config.sourcesDir,
        ...(roots ? { roots } : {}),
        cacheDir: join(config.dataDir, "cache"),
        scratchDir,
        store: registry.store,
        units,
        prior: this.priorIndex(),
        formats: this.options.formats,
        datasets: (source) => registry.datasetRecords(source),
        limits: config.shardLimits,
        teachers: config.teachers,
        readLimits: { maxLineBytes: config.maxLineBytes },
        ...(config.pipelineWorkers !== undefined ? { workers: config.pipelineWorkers } : {}),
        signal: controller.signal,
        onProgress: (progress) => {
          latest = progress;
          if (Date.now() - lastWrite > 1_000) {
            lastWrite = Date.now();
            beating = beating.then(beat).catch(() => {});
          }
        },
      });
      const dataset = await registry.ensureDataset({ name: spec.dataset.name, kind: spec.dataset.kind });
      const parents = [...new Set(spec.parents)].sort();
      const progress = latest ? toRunProgress(latest) : null;
      const { version } = await registry.recordVersion(dataset, result.built, parents, {
        steps: result.steps,
        indexFile: result.indexFile,
        inTransaction: async (tx, hash) => {
          // Committed in the same transaction as the run's success: whoever sees it succeeded sees it committed.
          if (row.commit === 1)
            await tx
              .update(datasetVersions)
              .set({ status: "committed", committedAt: new Date() })
              .where(and(eq(datasetVersions.hash, hash), eq(datasetVersions.status, "draft")));
          await tx
            .update(pipelineRuns)
            .set({
              status: "succeeded",
              versionHash: hash,
              finishedAt: new Date(),
              error: null,
              progress: progress ? { ...progress, phase: "done", steps: result.steps } : null,
            })
            .where(eq(pipelineRuns.id, id));
        },
      });
      await removeRunScratch(scratchDir);
      logger.info({ run: id, version: version.hash }, "pipeline run finished");
    } catch (error) {
      const cancelled = error instanceof PipelineCancelledError || controller.signal.aborted;
      const message =
        error instanceof ErrorBudgetError || error instanceof CuratorError
          ? error.message
          : `${(error as Error).message ?? String(error)}`;
      await this.db
        .update(pipelineRuns)
        .set({
          status: cancelled ? "cancelled" : "failed",
          error: cancelled ? null : message,
          finishedAt: new Date(),
          ...(latest ? { progress: toRunProgress(latest) } : {}),
        })
        .where(and(eq(pipelineRuns.id, id), eq(pipelineRuns.worker, this.workerId)));
      if (cancelled) logger.info({ run: id }, "pipeline run cancelled");
      else logger.error({ run: id, err: error }, "pipeline run failed");
    } finally {
      clearInterval(timer);
      await beating.catch(() => {});
      this.active.delete(id);
    }
  }

  /**
   * The folders a run's sources may read: every one, for the operator's own runs; otherwise the sources and
   * import folders and CURATOR_SOURCE_ROOTS (read when the run is queued and again when it runs, so a resumed
   * run stays confined).
   */
  private sourceRoots(origin: RunOrigin): string[] | undefined {
    if (origin === "operator") return undefined;
    const { sourcesDir, importDir, sourceRoots } = this.options.config;
    return [sourcesDir, importDir, ...sourceRoots];
  }

  /** The persistent dedup index of committed and published versions of the named datasets. */
  private priorIndex(): PriorIndex {
    const db = this.db;
    const versionsOf = (names: readonly string[]) =>
      db
        .select({ hash: datasetVersions.hash })
        .from(datasetVersions)
        .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
        .where(
          and(
            inArray(datasets.name, [...names]),
            inArray(datasetVersions.status, ["committed", "published"]),
          ),
        );
    return {
      async exactMatches(names, scheme, keys) {
        const out = new Map<string, { version: string; sampleId: string }>();
        if (!keys.length || !names.length) return out;
        const rows = await db
          .select({
            key: dedupExactKeys.key,
            version: dedupExactKeys.versionHash,
            sampleId: dedupExactKeys.sampleId,
          })
          .from(dedupExactKeys)
          .where(
            and(
              eq(dedupExactKeys.scheme, scheme),
              inArray(dedupExactKeys.key, [...keys]),
              inArray(dedupExactKeys.versionHash, versionsOf(names)),
            ),
          )
          .orderBy(dedupExactKeys.versionHash, dedupExactKeys.sampleId);
        for (const r of rows)
          if (!out.has(r.key)) out.set(r.key, { version: r.version, sampleId: r.sampleId });
        return out;
      },
      async bandMatches(names, scheme, keys) {
        if (!keys.length || !names.length) return [];
        const rows = await db
          .selectDistinct({
            key: dedupBands.bandKey,
            version: dedupBands.versionHash,
            sampleId: dedupBands.sampleId,
            signature: dedupSignatures.signature,
          })
          .from(dedupBands)
          .innerJoin(
            dedupSignatures,
            and(
              eq(dedupSignatures.versionHash, dedupBands.versionHash),
              eq(dedupSignatures.scheme, dedupBands.scheme),
              eq(dedupSignatures.sampleId, dedupBands.sampleId),
            ),
          )
          .where(
            and(
              eq(dedupBands.scheme, scheme),
              inArray(dedupBands.bandKey, [...keys]),
              inArray(dedupBands.versionHash, versionsOf(names)),
            ),
          )
          .orderBy(dedupBands.versionHash, dedupBands.sampleId);
        return rows.map((r) => ({
          key: r.key,
          match: { version: r.version, sampleId: r.sampleId },
          signature: signatureFromBytes(r.signature),
        }));
      },
    };
  }
}

export function parseSpec(input: unknown): PipelineSpec {
  const parsed = PipelineSpec.safeParse(input);
  const issues = parsed.success
    ? specProblems(parsed.data)
    : parsed.error.issues.map((i) => ({ path: i.path.join(".") || "(spec)", message: i.message }));
  if (!parsed.success || issues.length) {
    const lines = issues
      .slice(0, 10)
      .map((i) => `  ${i.path}: ${i.message}`)
      .join("\n");
    throw new CuratorError("BAD_REQUEST", `invalid pipeline spec:\n${lines}`);
  }
  return parsed.data;
}

/**
 * The spec with its teacher steps' endpoints, models and the endpoints' URLs filled in from the configured
 * endpoints, so the stored spec (and the manifest) records what made the data; a worker sends to its own
 * configuration of those endpoints, and refuses a run recorded at other URLs.
 */
function withTeacherEndpoints(spec: PipelineSpec, teachers: TeacherEndpoints): PipelineSpec {
  const resolved = resolveTeacherEndpoints(spec, teachers);
  if (resolved.problems.length)
    throw new CuratorError(
      "BAD_REQUEST",
      `pipeline ${spec.name} names teacher endpoints this curator cannot use:\n${resolved.problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`,
    );
  return resolved.spec;
}

function toRunProgress(p: PipelineProgress): RunProgress {
  return { ...p, updatedAt: new Date().toISOString() };
}
