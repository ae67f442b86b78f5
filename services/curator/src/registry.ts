/**
 * @module The dataset registry: datasets, content-addressed versions, their shards and sample index, over
 * one database (PGlite or PostgreSQL) and one blob store. The HTTP API and the CLI are thin layers on this.
 */
import { mkdir, realpath, stat } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { type Database, rowsOf } from "@sovereign/db";
import { readIndexLines } from "@sovereign/pipeline";
import {
  type DatasetKind,
  type DatasetSource,
  type Manifest,
  type Sample,
  type ShardEntry,
  type StepStats,
  tables,
} from "@sovereign/schemas";
import {
  BlobIntegrityError,
  BlobNotFoundError,
  type BlobStore,
  type BuildProgress,
  type BuiltVersion,
  DatasetBuilder,
  type InputFile,
  InputFormatError,
  InputRejectedError,
  ingestFiles,
  isSha256Hex,
  type RawRecord,
  type RejectedRecord,
  ROW_GROUP_ROWS,
  readShardBytes,
  readShardRows,
  type ShardLimits,
  shardLabel,
  type VerifyReport,
  verifyVersion,
} from "@sovereign/shards";
import { and, asc, count, desc, eq, gt, inArray, sql } from "drizzle-orm";
import { CuratorError, notFound } from "./errors";
import { storableJson, storableText } from "./pg-text";

const {
  datasets,
  datasetVersions,
  shards,
  samples,
  rejectedRecords,
  dedupExactKeys,
  dedupBands,
  dedupSignatures,
  reviewQueues,
} = tables;
type VersionStats = tables.VersionStats;

export const DATASET_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export type DatasetInfo = {
  name: string;
  kind: DatasetKind;
  description: string;
  createdAt: string;
  versions: number;
};

export type VersionStatus = "draft" | "committed" | "published";

export type VersionInfo = {
  hash: string;
  dataset: string;
  kind: DatasetKind;
  status: VersionStatus;
  parents: string[];
  pipeline: { name: string; configHash: string };
  stats: typeof datasetVersions.$inferSelect.stats;
  createdAt: string;
  committedAt: string | null;
};

export type SampleEntry = {
  sampleId: string;
  contentHash: string;
  split: string;
  source: string;
  position: number;
  shard: string;
  row: number;
};

export type BuildRequest = {
  inputs: InputFile[];
  maxRejected?: number;
  pipeline?: { name: string; config: unknown };
  parents?: string[];
  description?: string;
  limits?: Partial<ShardLimits>;
  /** Label for each input in error messages (defaults to the path). */
  labelOf?: (input: InputFile) => string;
  onProgress?: (progress: BuildProgress & { phase: "shards" | "index"; indexed?: number }) => void;
};

export type RegistryOptions = {
  scratchDir: string;
  importDir: string;
  shardLimits: ShardLimits;
  /** JSONL lines longer than this are refused records (`CURATOR_MAX_LINE_BYTES`; default 64 MiB). */
  maxLineBytes?: number;
  /** Bytes of verified shards kept in memory for sample reads. */
  shardCacheBytes?: number;
};

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export class Registry {
  private readonly shardCache: VerifiedShardCache;
  /** Decoded row groups by `shard sha256:first row`, least recently used first. */
  private readonly decodedGroups = new Map<string, Sample[]>();
  /** Manifests of versions read by `sampleAt` (a manifest never changes once its version is recorded). */
  private readonly manifests = new Map<string, Manifest>();
  private readonly verifiedBlobs = new Map<string, string>();

  constructor(
    readonly db: Database,
    readonly store: BlobStore,
    readonly options: RegistryOptions,
  ) {
    this.shardCache = new VerifiedShardCache(options.shardCacheBytes ?? 256 * 1024 * 1024);
  }

  async createDataset(input: {
    name: string;
    kind: DatasetKind;
    description?: string;
  }): Promise<DatasetInfo> {
    assertDatasetName(input.name);
    const inserted = await this.db
      .insert(datasets)
      .values({ name: input.name, kind: input.kind, description: input.description ?? "" })
      .onConflictDoNothing({ target: datasets.name })
      .returning();
    const row = inserted[0];
    if (!row) throw new CuratorError("CONFLICT", `dataset ${input.name} already exists`);
    return {
      name: row.name,
      kind: row.kind,
      description: row.description,
      createdAt: row.createdAt.toISOString(),
      versions: 0,
    };
  }

  async listDatasets(): Promise<DatasetInfo[]> {
    return this.datasetInfos();
  }

  async getDataset(name: string): Promise<DatasetInfo> {
    assertDatasetName(name);
    const found = (await this.datasetInfos(name))[0];
    if (!found) throw notFound(`dataset ${name}`);
    return found;
  }

  /** Datasets with their version counts, by name; one dataset when `name` is given. */
  private async datasetInfos(name?: string): Promise<DatasetInfo[]> {
    const rows = await this.db
      .select({
        name: datasets.name,
        kind: datasets.kind,
        description: datasets.description,
        createdAt: datasets.createdAt,
        versions: count(datasetVersions.hash),
      })
      .from(datasets)
      .leftJoin(datasetVersions, eq(datasetVersions.datasetId, datasets.id))
      .where(name === undefined ? undefined : eq(datasets.name, name))
      .groupBy(datasets.id)
      .orderBy(asc(datasets.name));
    return rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() }));
  }

  /**
   * Resolve a path a client named as "already on the server": it must stay inside the import directory
   * (no `..`, no absolute path elsewhere, no symlink escaping it) and be a regular file.
   */
  async locateInput(path: string): Promise<string> {
    if (path.includes("\0")) throw new CuratorError("BAD_REQUEST", "file path contains a NUL byte");
    const root = resolve(this.options.importDir);
    const full = resolve(root, path);
    const rel = relative(root, full);
    if (rel === "" || rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel)) {
      throw new CuratorError("BAD_REQUEST", `file ${JSON.stringify(path)} is outside the import directory`);
    }
    const real = await realpath(full).catch(() => undefined);
    if (!real)
      throw new CuratorError("NOT_FOUND", `file ${JSON.stringify(path)} not found in the import directory`);
    const realRoot = await realpath(root);
    const realRel = relative(realRoot, real);
    if (realRel.startsWith(`..${sep}`) || realRel === ".." || isAbsolute(realRel)) {
      throw new CuratorError(
        "BAD_REQUEST",
        `file ${JSON.stringify(path)} links outside the import directory`,
      );
    }
    if (!(await stat(real)).isFile())
      throw new CuratorError("BAD_REQUEST", `${JSON.stringify(path)} is not a file`);
    return real;
  }

  /**
   * Build a draft version from input files. The same inputs and options give the same hash; building a
   * version that already exists returns it unchanged (`created: false`).
   */
  async buildVersion(
    datasetName: string,
    request: BuildRequest,
  ): Promise<{ version: VersionInfo; created: boolean }> {
    const dataset = await this.datasetRow(datasetName);
    const parents = [...new Set(request.parents ?? [])].sort();
    for (const parent of parents) await this.versionRow(parent);
    await mkdir(this.options.scratchDir, { recursive: true });
    const builder = new DatasetBuilder({
      dataset: dataset.name,
      kind: dataset.kind,
      store: this.store,
      scratchDir: this.options.scratchDir,
      pipeline: request.pipeline ?? { name: "import", config: { maxRejected: request.maxRejected ?? 0 } },
      parents,
      description: request.description ?? dataset.description,
      limits: { ...this.options.shardLimits, ...request.limits },
      onProgress: (p) => request.onProgress?.({ ...p, phase: "shards" }),
    });
    let built: Awaited<ReturnType<DatasetBuilder["finish"]>>;
    try {
      await ingestFiles(builder, dataset.kind, request.inputs, {
        maxRejected: request.maxRejected ?? 0,
        ...(request.labelOf ? { labelOf: request.labelOf } : {}),
        ...(this.options.maxLineBytes !== undefined ? { maxLineBytes: this.options.maxLineBytes } : {}),
      });
      built = await builder.finish();
    } catch (error) {
      await builder.abort();
      if (error instanceof InputFormatError) throw new CuratorError("BAD_REQUEST", error.message);
      if (error instanceof InputRejectedError) {
        throw new CuratorError("INPUT_REJECTED", error.message, {
          rejected: error.total,
          budget: error.budget,
          records: error.rejected.map(({ location, reason, message }) => ({ location, reason, message })),
        });
      }
      throw error;
    }
    return this.recordVersion(dataset, built, parents, {
      ...(request.onProgress ? { onProgress: request.onProgress } : {}),
    });
  }

  /**
   * Store a built version: its row, shards, sample index, rejected records and (from pipelines) the dedup
   * index and per-step stats, in one transaction. A version that already exists is returned unchanged.
   * The builder's scratch files are removed either way.
   */
  async recordVersion(
    dataset: { id: string; name: string; kind: DatasetKind },
    built: BuiltVersion,
    parents: string[],
    options: {
      steps?: StepStats[];
      indexFile?: string;
      onProgress?: BuildRequest["onProgress"];
      /** Called inside the transaction, e.g. to mark the run that built it. */
      inTransaction?: (tx: Database, hash: string) => Promise<void>;
    } = {},
  ): Promise<{ version: VersionInfo; created: boolean }> {
    try {
      if (built.manifest.shards.length === 0) {
        throw new CuratorError("INPUT_REJECTED", "the inputs hold no valid record: nothing to version");
      }
      const existing = await this.findVersion(built.hash);
      if (existing) {
        const { manifest: _, ...version } = existing;
        if (options.inTransaction) {
          const hook = options.inTransaction;
          await this.db.transaction((tx) => hook(tx as unknown as Database, built.hash));
        }
        return { version, created: false };
      }
      const { manifest } = built;
      const totalRows = manifest.shards.reduce((n, s) => n + s.rows, 0);
      const stats: VersionStats = {
        rows: totalRows,
        bytes: manifest.shards.reduce((n, s) => n + s.bytes, 0),
        shards: manifest.shards.length,
        rejected: manifest.rejected.reduce((n, r) => n + r.rows, 0),
        splits: manifest.splits,
        ...(options.steps ? { steps: options.steps } : {}),
      };
      let indexed = 0;
      const created = await this.db.transaction(async (tx) => {
        // The same inputs built at once (identical requests, two runs of one pipeline) meet here: the insert
        // waits for another transaction recording this hash and, once that one commits, takes its version.
        const [inserted] = await tx
          .insert(datasetVersions)
          .values({
            hash: built.hash,
            datasetId: dataset.id,
            parents,
            pipelineName: manifest.pipeline.name,
            configHash: manifest.pipeline.configHash,
            status: "draft",
            manifest,
            cardSha256: built.cardSha256,
            stats,
          })
          .onConflictDoNothing({ target: datasetVersions.hash })
          .returning({ hash: datasetVersions.hash });
        if (!inserted) {
          await options.inTransaction?.(tx as unknown as Database, built.hash);
          return false;
        }
        await tx.insert(shards).values(
          manifest.shards.map((s, ordinal) => ({
            versionHash: built.hash,
            ordinal,
            path: s.path,
            split: s.split,
            sha256: s.sha256,
            bytes: s.bytes,
            rows: s.rows,
          })),
        );
        for await (const batch of built.sampleIndex(1_000)) {
          await tx.insert(samples).values(
            batch.map((e) => ({
              versionHash: built.hash,
              sampleId: e.sampleId,
              position: e.position,
              contentHash: e.contentHash,
              split: e.split,
              source: e.source,
              shardSha256: manifest.shards[e.shardOrdinal]?.sha256 ?? "",
              shardOrdinal: e.shardOrdinal,
              row: e.row,
            })),
          );
          indexed += batch.length;
          options.onProgress?.({
            accepted: totalRows,
            rejected: stats.rejected,
            shards: stats.shards,
            shardBytes: stats.bytes,
            phase: "index",
            indexed,
          });
        }
        let position = 0;
        let batch: (typeof rejectedRecords.$inferInsert)[] = [];
        for await (const r of this.rejectedLines(manifest)) {
          batch.push({
            versionHash: built.hash,
            position: position++,
            step: r.step ?? "input",
            reason: r.reason,
            action: r.action ?? "dropped",
            location: storableText(r.location),
            source: storableText(r.source ?? ""),
            message: storableText(r.message),
            detail: storableJson(r.detail ?? null),
            record: storableJson(r.record ?? null),
          });
          if (batch.length >= 500) {
            await tx.insert(rejectedRecords).values(batch);
            batch = [];
          }
        }
        if (batch.length) await tx.insert(rejectedRecords).values(batch);
        if (options.indexFile)
          await insertDedupIndex(tx as unknown as Database, built.hash, options.indexFile);
        await options.inTransaction?.(tx as unknown as Database, built.hash);
        return true;
      });
      return { version: await this.getVersion(built.hash), created };
    } finally {
      await built.dispose();
    }
  }

  /** The version's rejected records, parsed line by line from its rejected file(s) in the blob store. */
  private async *rejectedLines(manifest: Manifest): AsyncGenerator<RejectedRecord> {
    const decoder = new TextDecoder();
    for (const entry of manifest.rejected) {
      const bytes = await this.store.get(entry.sha256, entry.path);
      let start = 0;
      while (start < bytes.length) {
        let end = bytes.indexOf(0x0a, start);
        if (end < 0) end = bytes.length;
        if (end > start) yield JSON.parse(decoder.decode(bytes.subarray(start, end))) as RejectedRecord;
        start = end + 1;
      }
    }
  }

  /** A page of a version's rejected records, optionally of one step or reason; `cursor` is the last position. */
  async browseRejected(
    hash: string,
    query: { step?: string; reason?: string; action?: string; cursor?: number; limit: number },
  ) {
    await this.versionRow(hash);
    const conditions = [eq(rejectedRecords.versionHash, hash)];
    if (query.step !== undefined) conditions.push(eq(rejectedRecords.step, query.step));
    if (query.reason !== undefined) conditions.push(eq(rejectedRecords.reason, query.reason));
    if (query.action !== undefined) conditions.push(eq(rejectedRecords.action, query.action));
    if (query.cursor !== undefined) conditions.push(gt(rejectedRecords.position, query.cursor));
    const rows = await this.db
      .select()
      .from(rejectedRecords)
      .where(and(...conditions))
      .orderBy(asc(rejectedRecords.position))
      .limit(query.limit + 1);
    const page = rows.slice(0, query.limit);
    return {
      items: page.map(({ versionHash: _, ...r }) => r),
      nextCursor: rows.length > query.limit ? (page[page.length - 1]?.position ?? null) : null,
    };
  }

  /** Rows and tokens per split, the pipeline's per-step counts and the rejected-record histogram. */
  async versionStats(hash: string) {
    const row = await this.versionRow(hash);
    return {
      hash,
      rows: row.stats.rows,
      rejected: row.stats.rejected,
      splits: row.manifest.splits,
      tokenizer: row.manifest.tokenizer ?? null,
      steps: row.stats.steps ?? [],
      reasons: await this.rejectedHistogram(hash),
    };
  }

  /** Rejected records counted by step and reason. */
  async rejectedHistogram(
    hash: string,
  ): Promise<{ step: string; reason: string; action: string; count: number }[]> {
    await this.versionRow(hash);
    const rows = await this.db
      .select({
        step: rejectedRecords.step,
        reason: rejectedRecords.reason,
        action: rejectedRecords.action,
        count: count(),
      })
      .from(rejectedRecords)
      .where(eq(rejectedRecords.versionHash, hash))
      .groupBy(rejectedRecords.step, rejectedRecords.reason, rejectedRecords.action)
      .orderBy(asc(rejectedRecords.step), asc(rejectedRecords.reason));
    return rows.map((r) => ({ ...r, count: Number(r.count) }));
  }

  /** The dataset row, created with `kind` when it does not exist yet (pipelines name their output dataset). */
  async ensureDataset(input: { name: string; kind: DatasetKind; description?: string }) {
    assertDatasetName(input.name);
    await this.db
      .insert(datasets)
      .values({ name: input.name, kind: input.kind, description: input.description ?? "" })
      .onConflictDoNothing({ target: datasets.name });
    const row = await this.datasetRow(input.name);
    if (row.kind !== input.kind)
      throw new CuratorError(
        "CONFLICT",
        `dataset ${input.name} holds ${row.kind} samples, not ${input.kind}`,
      );
    return row;
  }

  /**
   * Commit a draft; committing a committed version changes nothing. A commit and a discard of one draft at
   * once: whichever reaches the row first wins, and the other is refused with the reason.
   */
  async commitVersion(hash: string): Promise<VersionInfo> {
    const row = await this.versionRow(hash);
    if (row.status === "draft") {
      const updated = await this.db
        .update(datasetVersions)
        .set({ status: "committed", committedAt: new Date() })
        .where(and(eq(datasetVersions.hash, hash), eq(datasetVersions.status, "draft")))
        .returning({ hash: datasetVersions.hash });
      if (!updated.length && !(await this.findVersion(hash)))
        throw new CuratorError("CONFLICT", `version ${hash} was discarded before it could be committed`);
    }
    return this.getVersion(hash);
  }

  async discardDraft(hash: string): Promise<void> {
    const row = await this.versionRow(hash);
    const refuse = (status: VersionStatus) =>
      new CuratorError("CONFLICT", `version ${hash} is ${status}: committed versions are immutable`);
    if (row.status !== "draft") throw refuse(row.status);
    const deleted = await this.db
      .delete(datasetVersions)
      .where(and(eq(datasetVersions.hash, hash), eq(datasetVersions.status, "draft")))
      .returning({ hash: datasetVersions.hash })
      .catch(async (error) => {
        if (!STILL_REFERENCED.has(sqlState(error) ?? "")) throw error;
        const queues = await this.db
          .select({ id: reviewQueues.id })
          .from(reviewQueues)
          .where(eq(reviewQueues.versionHash, hash))
          .orderBy(asc(reviewQueues.createdAt));
        if (!queues.length) throw error;
        throw new CuratorError(
          "CONFLICT",
          `version ${hash} is under review (review queue ${queues.map((q) => q.id).join(", ")}): a draft with review queues cannot be discarded`,
        );
      });
    this.manifests.delete(hash);
    if (deleted.length) return;
    // Committed (or discarded) by another request between the read and the delete.
    const now = await this.findVersion(hash);
    if (now) throw refuse(now.status);
    throw notFound(`version ${hash}`);
  }

  async listVersions(datasetName: string): Promise<VersionInfo[]> {
    const dataset = await this.datasetRow(datasetName);
    const rows = await this.db
      .select()
      .from(datasetVersions)
      .where(eq(datasetVersions.datasetId, dataset.id))
      .orderBy(desc(datasetVersions.createdAt), asc(datasetVersions.hash));
    return rows.map((r) => toVersionInfo(r, dataset.name, dataset.kind));
  }

  /** The newest version of a dataset in one of these statuses, if any. */
  async latestVersion(datasetName: string, statuses: VersionStatus[]): Promise<string | undefined> {
    const dataset = await this.datasetRow(datasetName).catch(() => undefined);
    if (!dataset) return undefined;
    const [row] = await this.db
      .select({ hash: datasetVersions.hash })
      .from(datasetVersions)
      .where(and(eq(datasetVersions.datasetId, dataset.id), inArray(datasetVersions.status, statuses)))
      .orderBy(desc(datasetVersions.createdAt), asc(datasetVersions.hash))
      .limit(1);
    return row?.hash;
  }

  /**
   * The version a `dataset` source reads: the one it pins, which must be a committed or published version of
   * that dataset, or else the dataset's latest such version.
   */
  async pinDatasetSource(source: DatasetSource): Promise<string> {
    if (source.version === undefined) {
      const latest = await this.latestVersion(source.dataset, ["committed", "published"]);
      if (!latest)
        throw new CuratorError(
          "CONFLICT",
          `source ${source.name} reads dataset ${source.dataset}, which has no committed version yet: build it first`,
        );
      return latest;
    }
    const found = await this.findVersion(source.version);
    if (!found || found.dataset !== source.dataset)
      throw new CuratorError(
        "BAD_REQUEST",
        `source ${source.name}: version ${source.version} is not a version of dataset ${source.dataset}`,
      );
    if (found.status !== "committed" && found.status !== "published")
      throw new CuratorError(
        "CONFLICT",
        `source ${source.name}: version ${source.version} of ${source.dataset} is ${found.status}; only committed or published versions can be read`,
      );
    return source.version;
  }

  /**
   * The samples of a `dataset` source's pinned version, shard by shard (each verified), with their locations;
   * each carries `meta.origin` (dataset, version and its source there).
   */
  async *datasetRecords(source: DatasetSource): AsyncGenerator<RawRecord> {
    if (source.version === undefined) throw new Error(`source ${source.name} is not pinned to a version`);
    for await (const { sample, shard, row } of this.versionSamples(source.version, source.splits)) {
      // The sample's own source becomes this pipeline's source name, so where it came from goes into meta.
      const origin = { dataset: source.dataset, version: source.version, source: sample.source };
      yield {
        ok: true,
        location: `${source.version.slice(0, 12)}/${shard.path}#${row}`,
        value: { ...sample, meta: { ...sample.meta, origin } },
      };
    }
  }

  /** Every sample of a version (optionally only some splits), shard by shard, each shard verified. */
  async *versionSamples(
    hash: string,
    splits?: readonly string[],
  ): AsyncGenerator<{ sample: Sample; shard: ShardEntry; row: number }> {
    const manifest = await this.getManifest(hash);
    const only = splits ? new Set(splits) : undefined;
    for (const shard of manifest.shards) {
      if (only && !only.has(shard.split)) continue;
      const samples = readShardRows(manifest.kind, await this.shardBytes(hash, shard));
      for (const [row, sample] of samples.entries()) yield { sample, shard, row };
    }
  }

  async getVersion(hash: string): Promise<VersionInfo> {
    const { manifest: _, ...info } = await this.getVersionDetail(hash);
    return info;
  }

  /** A version with its manifest, from one query. */
  async getVersionDetail(hash: string): Promise<VersionInfo & { manifest: Manifest }> {
    const found = await this.findVersion(hash);
    if (!found) throw notFound(`version ${hash}`);
    return found;
  }

  private async findVersion(hash: string): Promise<(VersionInfo & { manifest: Manifest }) | undefined> {
    assertHash(hash, "version");
    const rows = await this.db
      .select({ version: datasetVersions, name: datasets.name, kind: datasets.kind })
      .from(datasetVersions)
      .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
      .where(eq(datasetVersions.hash, hash));
    const r = rows[0];
    return r ? { ...toVersionInfo(r.version, r.name, r.kind), manifest: r.version.manifest } : undefined;
  }

  async getManifest(hash: string): Promise<Manifest> {
    return (await this.versionRow(hash)).manifest;
  }

  /**
   * Samples of `b` whose content is not in `a` (added) and of `a` whose content is not in `b` (removed),
   * compared by content hash, so a renamed id with the same content is unchanged.
   */
  async diff(a: string, b: string, limit = 100) {
    await this.versionRow(a);
    await this.versionRow(b);
    const only = (left: string, right: string) =>
      sql`FROM ${samples} s WHERE s.version_hash = ${left} AND NOT EXISTS (
        SELECT 1 FROM ${samples} o WHERE o.version_hash = ${right} AND o.content_hash = s.content_hash)`;
    const countOf = async (left: string, right: string) => {
      const res = await this.db.execute<{ n: string | number }>(
        sql`SELECT count(*) AS n ${only(left, right)}`,
      );
      return Number(rowsOf<{ n: string | number }>(res)[0]?.n ?? 0);
    };
    const listOf = async (left: string, right: string) => {
      const res = await this.db.execute<{ sample_id: string; content_hash: string; split: string }>(
        sql`SELECT s.sample_id, s.content_hash, s.split ${only(left, right)} ORDER BY s.position LIMIT ${limit}`,
      );
      return rowsOf<{ sample_id: string; content_hash: string; split: string }>(res).map((r) => ({
        sampleId: r.sample_id,
        contentHash: r.content_hash,
        split: r.split,
      }));
    };
    const [added, removed, sizeA, sizeB] = await Promise.all([
      countOf(b, a),
      countOf(a, b),
      this.sampleCount(a),
      this.sampleCount(b),
    ]);
    return {
      from: a,
      to: b,
      added,
      removed,
      unchanged: sizeB - added,
      sizes: { from: sizeA, to: sizeB },
      addedSamples: await listOf(b, a),
      removedSamples: await listOf(a, b),
    };
  }

  private async sampleCount(hash: string): Promise<number> {
    const [row] = await this.db.select({ n: count() }).from(samples).where(eq(samples.versionHash, hash));
    return row?.n ?? 0;
  }

  /** A page of a version's samples in position order; `cursor` is the last position of the previous page. */
  async browseSamples(
    hash: string,
    query: { split?: string; source?: string; cursor?: number; limit: number; content?: boolean },
  ): Promise<{ items: (SampleEntry & { sample?: Sample })[]; nextCursor: number | null }> {
    const version = await this.versionRow(hash);
    const conditions = [eq(samples.versionHash, hash)];
    if (query.split !== undefined) conditions.push(eq(samples.split, query.split));
    if (query.source !== undefined) conditions.push(eq(samples.source, query.source));
    if (query.cursor !== undefined) conditions.push(gt(samples.position, query.cursor));
    const rows = await this.db
      .select()
      .from(samples)
      .where(and(...conditions))
      .orderBy(asc(samples.position))
      .limit(query.limit + 1);
    const page = rows.slice(0, query.limit);
    const items = page.map((r) => toSampleEntry(r, version.manifest));
    const withContent = query.content ? await this.attachContent(hash, version.manifest, page, items) : items;
    return {
      items: withContent,
      nextCursor: rows.length > query.limit ? (page[page.length - 1]?.position ?? null) : null,
    };
  }

  async getSample(hash: string, sampleId: string): Promise<SampleEntry & { sample: Sample }> {
    const version = await this.versionRow(hash);
    const [row] = await this.db
      .select()
      .from(samples)
      .where(and(eq(samples.versionHash, hash), eq(samples.sampleId, sampleId)));
    if (!row) throw notFound(`sample ${sampleId} in version ${hash}`);
    const [item] = await this.attachContent(
      hash,
      version.manifest,
      [row],
      [toSampleEntry(row, version.manifest)],
    );
    if (!item?.sample) throw new CuratorError("INTERNAL", `sample ${sampleId} could not be read`);
    return item as SampleEntry & { sample: Sample };
  }

  /**
   * The sample at a position of a version's shards (`shardOrdinal`, `row`, as the samples table has them),
   * through the manifest, shard and row-group caches: review's hot path, with no query once they are warm.
   */
  async sampleAt(hash: string, at: { shardOrdinal: number; row: number }): Promise<Sample> {
    let manifest = this.manifests.get(hash);
    if (!manifest) {
      manifest = await this.getManifest(hash);
      if (this.manifests.size >= MANIFESTS_CACHED)
        this.manifests.delete(this.manifests.keys().next().value as string);
      this.manifests.set(hash, manifest);
    }
    const shard = manifest.shards[at.shardOrdinal];
    if (!shard) throw new CuratorError("INTERNAL", `version ${hash} has no shard ${at.shardOrdinal}`);
    const sample = this.decodedRow(manifest.kind, shard.sha256, await this.shardBytes(hash, shard), at.row);
    if (!sample)
      throw new CuratorError(
        "INTERNAL",
        `row ${at.row} of ${shard.path} in version ${hash} could not be read`,
      );
    return sample;
  }

  private async attachContent(
    hash: string,
    manifest: Manifest,
    rows: (typeof samples.$inferSelect)[],
    items: SampleEntry[],
  ): Promise<(SampleEntry & { sample?: Sample })[]> {
    const out: (SampleEntry & { sample?: Sample })[] = items.map((i) => ({ ...i }));
    const byShard = new Map<number, number[]>();
    rows.forEach((r, i) => {
      const list = byShard.get(r.shardOrdinal) ?? [];
      list.push(i);
      byShard.set(r.shardOrdinal, list);
    });
    for (const [ordinal, indices] of byShard) {
      const shard = manifest.shards[ordinal];
      if (!shard) throw new CuratorError("INTERNAL", `version ${hash} has no shard ${ordinal}`);
      const bytes = await this.shardBytes(hash, shard);
      for (const i of indices) {
        const item = out[i];
        const row = rows[i];
        if (item && row) item.sample = this.decodedRow(manifest.kind, shard.sha256, bytes, row.row);
      }
    }
    return out;
  }

  /**
   * One row of a shard, from its whole row group decoded once and kept a while: review hands out single
   * samples, often from the same groups, and a group decodes in about the time of one row.
   */
  private decodedRow(kind: DatasetKind, sha256: string, bytes: Uint8Array, row: number): Sample | undefined {
    const start = row - (row % ROW_GROUP_ROWS);
    const key = `${sha256}:${start}`;
    let group = this.decodedGroups.get(key);
    if (group) {
      this.decodedGroups.delete(key); // re-inserted below: most recently used last
    } else {
      group = readShardRows(kind, bytes, { offset: start, limit: ROW_GROUP_ROWS });
      const oldest =
        this.decodedGroups.size >= DECODED_GROUPS ? this.decodedGroups.keys().next().value : undefined;
      if (oldest !== undefined) this.decodedGroups.delete(oldest);
    }
    this.decodedGroups.set(key, group);
    return group[row - start];
  }

  /** Verified bytes of a shard, from a cache keyed by the file's change token. */
  async shardBytes(hash: string, shard: ShardEntry): Promise<Uint8Array> {
    const stat = await this.store.stat(shard.sha256);
    const label = shardLabel(shard, hash);
    if (!stat) throw mapBlobError(new BlobNotFoundError(shard.sha256, label));
    const cached = this.shardCache.get(shard.sha256, stat.changeToken);
    if (cached) return cached;
    try {
      const bytes = await readShardBytes(this.store, hash, shard);
      this.shardCache.set(shard.sha256, stat.changeToken, bytes);
      return bytes;
    } catch (error) {
      throw mapBlobError(error);
    }
  }

  /**
   * A file of a version's Hugging Face layout: `manifest.json`, `README.md`, a shard under `data/`, or
   * rejected records under `rejected/`. Only names the manifest lists resolve: nothing else is reachable.
   */
  async versionFile(
    hash: string,
    path: string,
  ): Promise<{ sha256: string; bytes: number; contentType: string; label: string }> {
    const version = await this.versionRow(hash);
    if (path === "manifest.json") {
      return {
        sha256: hash,
        bytes: await this.blobSize(hash, "manifest.json", hash),
        contentType: "application/json",
        label: `manifest.json of version ${hash}`,
      };
    }
    if (path === "README.md") {
      return {
        sha256: version.cardSha256,
        bytes: await this.blobSize(version.cardSha256, "README.md", hash),
        contentType: "text/markdown; charset=utf-8",
        label: `README.md of version ${hash}`,
      };
    }
    const entry = [...version.manifest.shards, ...version.manifest.rejected].find((s) => s.path === path);
    if (!entry) throw notFound(`file ${path} in version ${hash}`);
    return {
      sha256: entry.sha256,
      bytes: entry.bytes,
      contentType: path.endsWith(".parquet") ? "application/vnd.apache.parquet" : "application/x-ndjson",
      label: shardLabel(entry, hash),
    };
  }

  private async blobSize(sha256: string, path: string, hash: string): Promise<number> {
    const s = await this.store.stat(sha256);
    if (!s) throw mapBlobError(new BlobNotFoundError(sha256, `${path} of version ${hash}`));
    return s.bytes;
  }

  /**
   * Re-hash a stored blob before serving it, remembering the result until the file changes (a rewrite, a
   * flipped byte written in place) so repeated downloads and range requests do not re-read it each time.
   */
  async verifyBlob(sha256: string, label: string): Promise<void> {
    const stat = await this.store.stat(sha256);
    if (!stat) throw mapBlobError(new BlobNotFoundError(sha256, label));
    if (this.verifiedBlobs.get(sha256) === stat.changeToken) return;
    const result = await this.store.verify(sha256, label);
    if (!result.ok) throw mapBlobError(result.error);
    this.verifiedBlobs.set(sha256, stat.changeToken);
  }

  /** Re-hash the version's manifest, card, shards and rejected records in the blob store. */
  async verify(hash: string, onShard?: (done: number, total: number) => void): Promise<VerifyReport> {
    const version = await this.versionRow(hash);
    return verifyVersion(this.store, hash, version.manifest, onShard, { cardSha256: version.cardSha256 });
  }

  async datasetRow(name: string) {
    assertDatasetName(name);
    const [row] = await this.db.select().from(datasets).where(eq(datasets.name, name));
    if (!row) throw notFound(`dataset ${name}`);
    return row;
  }

  private async versionRow(hash: string) {
    assertHash(hash, "version");
    const [row] = await this.db.select().from(datasetVersions).where(eq(datasetVersions.hash, hash));
    if (!row) throw notFound(`version ${hash}`);
    return row;
  }

  /** Versions whose hash starts with a prefix (for the CLI's short hashes). */
  async resolvePrefix(prefix: string): Promise<string> {
    if (isSha256Hex(prefix)) return prefix;
    if (!/^[0-9a-f]{6,63}$/.test(prefix)) {
      throw new CuratorError(
        "BAD_REQUEST",
        `${JSON.stringify(prefix)} is not a version hash or a prefix of 6+ hex digits`,
      );
    }
    const rows = await this.db
      .select({ hash: datasetVersions.hash })
      .from(datasetVersions)
      .where(sql`${datasetVersions.hash} LIKE ${`${prefix}%`}`)
      .limit(2);
    if (rows.length === 0) throw notFound(`version ${prefix}…`);
    if (rows.length > 1) throw new CuratorError("BAD_REQUEST", `version prefix ${prefix} is ambiguous`);
    return rows[0]?.hash ?? prefix;
  }
}

function toVersionInfo(
  r: typeof datasetVersions.$inferSelect,
  dataset: string,
  kind: DatasetKind,
): VersionInfo {
  return {
    hash: r.hash,
    dataset,
    kind,
    status: r.status,
    parents: r.parents,
    pipeline: { name: r.pipelineName, configHash: r.configHash },
    stats: r.stats,
    createdAt: r.createdAt.toISOString(),
    committedAt: iso(r.committedAt),
  };
}

function toSampleEntry(r: typeof samples.$inferSelect, manifest: Manifest): SampleEntry {
  return {
    sampleId: r.sampleId,
    contentHash: r.contentHash,
    split: r.split,
    source: r.source,
    position: r.position,
    shard: manifest.shards[r.shardOrdinal]?.path ?? "",
    row: r.row,
  };
}

export function assertDatasetName(name: string): void {
  if (!DATASET_NAME.test(name)) {
    throw new CuratorError(
      "BAD_REQUEST",
      `dataset name ${JSON.stringify(name)} is invalid: use 1–64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
}

function assertHash(hash: string, what: string): void {
  if (!isSha256Hex(hash))
    throw new CuratorError(
      "BAD_REQUEST",
      `${what} hash ${JSON.stringify(hash)} is not 64 lowercase hex digits`,
    );
}

/** A row other rows still name: foreign_key_violation, or restrict_violation (newer servers, ON DELETE RESTRICT). */
const STILL_REFERENCED = new Set(["23503", "23001"]);

/** The SQLSTATE of a database error, from either driver, through the query error that wraps it. */
function sqlState(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export function mapBlobError(error: unknown): unknown {
  if (error instanceof BlobIntegrityError) return new CuratorError("INTEGRITY_ERROR", error.message);
  if (error instanceof BlobNotFoundError) return new CuratorError("INTEGRITY_ERROR", error.message);
  return error;
}

/** Verified shard bytes kept in memory, evicted least-recently-used past a byte budget. */
/** Decoded row groups kept: 64 × 1,024 rows. */
const DECODED_GROUPS = 64;
/** Manifests kept for `sampleAt`. */
const MANIFESTS_CACHED = 32;

class VerifiedShardCache {
  private readonly entries = new Map<string, { token: string; bytes: Uint8Array }>();
  private total = 0;

  constructor(private readonly budget: number) {}

  get(sha256: string, token: string): Uint8Array | undefined {
    const entry = this.entries.get(sha256);
    if (!entry) return undefined;
    this.entries.delete(sha256);
    if (entry.token !== token) {
      this.total -= entry.bytes.byteLength;
      return undefined;
    }
    this.entries.set(sha256, entry);
    return entry.bytes;
  }

  set(sha256: string, token: string, bytes: Uint8Array): void {
    if (bytes.byteLength > this.budget) return;
    const old = this.entries.get(sha256);
    if (old) {
      this.total -= old.bytes.byteLength;
      this.entries.delete(sha256);
    }
    this.entries.set(sha256, { token, bytes });
    this.total += bytes.byteLength;
    for (const [key, entry] of this.entries) {
      if (this.total <= this.budget) break;
      this.entries.delete(key);
      this.total -= entry.bytes.byteLength;
    }
  }
}

/** The kept samples' exact keys, band keys and signatures from a pipeline's index file, for later runs. */
async function insertDedupIndex(tx: Database, hash: string, indexFile: string): Promise<void> {
  let exact: (typeof dedupExactKeys.$inferInsert)[] = [];
  let bands: (typeof dedupBands.$inferInsert)[] = [];
  let signatures: (typeof dedupSignatures.$inferInsert)[] = [];
  const flush = async (all = false) => {
    if (exact.length && (all || exact.length >= 1_000)) {
      await tx.insert(dedupExactKeys).values(exact).onConflictDoNothing();
      exact = [];
    }
    if (bands.length && (all || bands.length >= 2_000)) {
      await tx.insert(dedupBands).values(bands).onConflictDoNothing();
      bands = [];
    }
    if (signatures.length && (all || signatures.length >= 500)) {
      await tx.insert(dedupSignatures).values(signatures).onConflictDoNothing();
      signatures = [];
    }
  };
  for await (const line of readIndexLines(indexFile)) {
    if ("e" in line) exact.push({ versionHash: hash, scheme: line.e, key: line.key, sampleId: line.id });
    else {
      for (const [band, key] of line.keys.entries())
        bands.push({ versionHash: hash, scheme: line.b, bandKey: BigInt(key), sampleId: line.id, band });
      signatures.push({
        versionHash: hash,
        scheme: line.b,
        sampleId: line.id,
        signature: Buffer.from(line.sig, "base64"),
      });
    }
    await flush();
  }
  await flush(true);
}
