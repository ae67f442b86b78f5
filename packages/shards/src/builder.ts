/**
 * @module Streaming version builder: validated samples in, bounded Parquet shards out, then the manifest,
 * its hash and the dataset card. Memory is bounded by the shard limits, not by the dataset: shards are
 * written to the blob store as they fill, and the per-sample index is spilled to a temporary file. Full
 * shards are encoded by worker threads while the caller goes on adding samples.
 */
import { createReadStream } from "node:fs";
import { appendFile, mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  type DatasetKind,
  MANIFEST_FORMAT,
  type Manifest,
  type RejectedEntry,
  type Sample,
  type ShardEntry,
  SPLIT_NAME,
} from "@sovereign/schemas";
import type { BlobStore } from "./blob-store";
import { datasetCard } from "./card";
import { canonicalJson, hasJsonForm, keepableRecord } from "./hashing";
import { configHash, manifestBytes, manifestHash, schemaFingerprint, shardPath } from "./manifest";
import { scratchName } from "./owner";
import { type EncodedShard, type EncodeJob, encodeShard, JsonRows, runShardJob } from "./shard-jobs";
import { defaultWorkerCount, WorkerPool } from "./worker-pool";

export { sampleContentHash } from "./shard-jobs";

export type ShardLimits = {
  /** Most rows in one shard. */
  maxRows: number;
  /**
   * Most bytes of row content (canonical JSON, before compression) in one shard. This is what bounds the
   * builder's memory; the Parquet file is typically 3–6× smaller for Thai text.
   */
  maxBytes: number;
};

export const DEFAULT_SHARD_LIMITS: ShardLimits = { maxRows: 50_000, maxBytes: 64 * 1024 * 1024 };

/** Why an input record was refused on import; pipeline steps add their own reason codes. */
export type RejectReason = "malformed" | "invalid" | "duplicate-id" | "invalid-utf8" | "too-long";

export type RejectedRecord = {
  reason: RejectReason | (string & {});
  /** Where it came from: `file:line` for JSONL, `file#row` for Parquet. */
  location: string;
  message: string;
  /** The record as read (parsed JSON when it parsed, otherwise the raw line), or the sample before a change. */
  record: unknown;
  /** The pipeline step that decided (`input` when absent: the record could not be read or validated). */
  step?: string;
  /** `dropped` (the default) or `modified`: the sample was kept in a changed form and `record` is the original. */
  action?: "dropped" | "modified";
  /** The source the record came from. */
  source?: string;
  /** What the step measured or matched (a rule's value and limit, the duplicate kept instead, …). */
  detail?: unknown;
};

export type BuildProgress = {
  accepted: number;
  rejected: number;
  shards: number;
  shardBytes: number;
};

export type SampleIndexEntry = {
  sampleId: string;
  contentHash: string;
  split: string;
  source: string;
  /** Position of the shard in the manifest's `shards`. */
  shardOrdinal: number;
  row: number;
  /** Position of the sample in the version: shard order, then row. */
  position: number;
};

export type BuiltVersion = {
  hash: string;
  manifest: Manifest;
  manifestBytes: Uint8Array;
  card: string;
  cardSha256: string;
  /** The per-sample index in manifest order, read back from the spill file in batches. */
  sampleIndex(batchSize?: number): AsyncGenerator<SampleIndexEntry[]>;
  /** Remove the builder's temporary files (the blobs stay). */
  dispose(): Promise<void>;
};

export type BuilderOptions = {
  dataset: string;
  kind: DatasetKind;
  store: BlobStore;
  /** Scratch directory for the spilled sample index and rejected records. */
  scratchDir: string;
  pipeline: { name: string; config: unknown };
  /** Record the pipeline's config itself in the manifest, not only its hash. */
  recordConfig?: boolean;
  /** Path of the rejected records in the dataset layout. */
  rejectedPath?: string;
  /** The tokenizer whose counts `add` is given, named in the manifest. */
  tokenizer?: string;
  parents?: string[];
  description?: string;
  limits?: Partial<ShardLimits>;
  onProgress?: (progress: BuildProgress) => void;
  /**
   * Worker threads that encode full shards while `add` goes on. At most this many shards are in flight, so
   * memory holds up to `workers` shards being encoded besides the one being filled in each split. 0 encodes
   * every shard in the calling thread. Default: the cores there are, at most 4, started once the build has
   * taken in 16 MiB of rows (the shards of a smaller build are encoded in the calling thread). The shards,
   * manifest and hash do not depend on it.
   */
  workers?: number;
};

type PendingShard = { split: string; index: number; sha256: string; bytes: number; rows: number };
/**
 * The rows of the shard being filled are kept as given (`buffer`) when this thread encodes them, and as the
 * JSON made for the size limit (`json`) when workers may. `indexFile`: the split's own spill file, so the
 * index can be read back split by split in manifest order.
 */
type SplitState = {
  tokens: number;
  buffer: Sample[];
  json: JsonRows;
  bufferBytes: number;
  shards: number;
  rows: number;
  indexFile: string;
};

const ENCODE_WORKER = new URL("./shard-worker.cjs", import.meta.url);

/**
 * Rows a build takes in before the default workers start; until then shards are encoded in the calling
 * thread. Starting a worker costs about 0.5 s of CPU (loading tsx, Arrow and the schemas), as much as
 * encoding 20 MB here: small builds never pay it, and a large one starts them early in its first shard
 * (with the default limits), so that their start-up overlaps filling it.
 */
const WORKERS_AFTER_BYTES = 16 * 1024 * 1024;

export class DatasetBuilder {
  private readonly limits: ShardLimits;
  private readonly splits = new Map<string, SplitState>();
  private readonly shards: PendingShard[] = [];
  /** Ids seen so far: the one structure that grows with the dataset (about 100 bytes a sample). */
  private readonly ids = new Set<string>();
  private readonly scratch: string;
  private readonly rejectedFile: string;
  private rejectedCount = 0;
  private acceptedCount = 0;
  private shardBytes = 0;
  private finished = false;
  private readonly workers: number;
  /** Rows taken in, and how many before the workers start. */
  private addedBytes = 0;
  private readonly workersAfter: number;
  private pool: WorkerPool | undefined;
  /** Shards handed to workers and not stored yet, oldest first. */
  private readonly inFlight: Promise<void>[] = [];
  /**
   * The last shard to be stored. Each is stored after the one flushed before it, whatever order the workers
   * finish in, so shards and index lines are recorded exactly as when this thread encodes them in turn.
   */
  private stored: Promise<void> = Promise.resolve();

  constructor(private readonly options: BuilderOptions) {
    this.limits = { ...DEFAULT_SHARD_LIMITS, ...options.limits };
    if (this.limits.maxRows < 1 || this.limits.maxBytes < 1) throw new Error("shard limits must be positive");
    this.workers = options.workers ?? defaultWorkerCount();
    this.workersAfter = options.workers === undefined ? WORKERS_AFTER_BYTES : 0;
    if (!Number.isInteger(this.workers) || this.workers < 0)
      throw new Error(`workers must be a whole number, got ${options.workers}`);
    // Named for this process, so scratch a killed build leaves is recognised and removed (removeStaleScratch).
    this.scratch = join(options.scratchDir, scratchName("build-", "-"));
    this.rejectedFile = join(this.scratch, "rejected.jsonl");
  }

  get accepted(): number {
    return this.acceptedCount;
  }

  get rejected(): number {
    return this.rejectedCount;
  }

  /**
   * Add one validated sample; resolves once any shard it completed is stored, or, with workers, handed to
   * one with fewer than `workers` shards then in flight. A sample whose id is already in the version is not
   * added: the rejection is returned for the caller to keep (`reject`) or to count.
   */
  async add(
    split: string,
    sample: Sample,
    location: string,
    tokens?: number,
  ): Promise<RejectedRecord | undefined> {
    const duplicate = this.claimId(sample, location);
    if (duplicate) return duplicate;
    let state = this.splits.get(split);
    if (!state) {
      if (!SPLIT_NAME.test(split)) {
        throw new Error(
          `split name ${JSON.stringify(split)} is invalid: use lowercase letters, digits and '_', starting with a letter`,
        );
      }
      state = {
        tokens: 0,
        buffer: [],
        json: new JsonRows(),
        bufferBytes: 0,
        shards: 0,
        rows: 0,
        indexFile: join(this.scratch, `index-${this.splits.size}.jsonl`),
      };
      this.splits.set(split, state);
    }
    // The JSON length of the row: close to its in-memory and uncompressed Parquet size.
    const json = JSON.stringify(sample);
    const size = Buffer.byteLength(json);
    if (this.workers > 0 && "tools" in sample && !hasJsonForm(sample.tools)) {
      // Workers rebuild rows from this JSON, where a non-finite number in the free-form tool parameters would
      // quietly become null: refuse it as the content hash refuses it when this thread encodes.
      canonicalJson(sample.tools, "$.tools");
    }
    if (state.bufferBytes > 0 && state.bufferBytes + size > this.limits.maxBytes)
      await this.flush(split, state);
    if (this.workers > 0) state.json.push(json);
    else state.buffer.push(sample);
    state.bufferBytes += size;
    state.tokens += tokens ?? 0;
    this.acceptedCount++;
    this.addedBytes += size;
    if (this.workers > 0 && !this.pool && this.addedBytes >= this.workersAfter) {
      this.pool = new WorkerPool(ENCODE_WORKER, this.workers, "encoding shards");
      this.pool.start();
    }
    if (state.buffer.length + state.json.count >= this.limits.maxRows) await this.flush(split, state);
    return undefined;
  }

  /**
   * Note a sample's id without adding the sample; returns the duplicate-id rejection `add` would give. Lets a
   * caller whose build is already lost keep validating, so its error can still list every duplicate.
   */
  claimId(sample: Sample, location: string): RejectedRecord | undefined {
    this.assertOpen();
    if (this.ids.has(sample.id)) {
      return {
        reason: "duplicate-id",
        location,
        message: `sample id ${JSON.stringify(sample.id)} already appears earlier in this version`,
        record: sample,
      };
    }
    this.ids.add(sample.id);
    return undefined;
  }

  /** Keep a refused record with its reason; one that JSON cannot carry is kept as its text (`keepableRecord`). */
  async reject(record: RejectedRecord): Promise<void> {
    this.assertOpen();
    await mkdir(this.scratch, { recursive: true });
    const kept = { ...record, record: keepableRecord(record.record) };
    await appendFile(this.rejectedFile, `${canonicalJson(kept)}\n`);
    this.rejectedCount++;
    this.report();
  }

  /**
   * Close the split's open shard. Once the workers have started, one of them encodes it and this returns as
   * soon as fewer than `workers` shards are in flight; until then this thread encodes it.
   */
  private async flush(split: string, state: SplitState): Promise<void> {
    const index = state.shards++;
    const samples = state.buffer;
    const job: EncodeJob | undefined =
      this.workers > 0
        ? { job: "encode", kind: this.options.kind, split, shardIndex: index, rows: state.json.take() }
        : undefined;
    state.buffer = [];
    state.bufferBytes = 0;
    const failed = (error: Error) =>
      new Error(`encoding shard ${index} of split ${split} failed: ${error.message}`, { cause: error });
    if (!job || !this.pool) {
      let shard: EncodedShard;
      try {
        shard = job ? runShardJob(job) : encodeShard(this.options.kind, split, index, samples);
      } catch (error) {
        throw failed(error as Error);
      }
      await this.store(split, state, index, shard);
      return;
    }
    while (this.inFlight.length >= this.workers) await this.inFlight.shift();
    const encoded = this.pool.run<EncodedShard>(job, [job.rows.buffer]).catch((error: Error) => {
      throw failed(error);
    });
    const stored = this.stored.then(() => encoded).then((shard) => this.store(split, state, index, shard));
    // Each is awaited later, or dropped by abort(): never an unhandled rejection in between.
    encoded.catch(() => {});
    stored.catch(() => {});
    this.stored = stored;
    this.inFlight.push(stored);
  }

  private async store(split: string, state: SplitState, index: number, shard: EncodedShard): Promise<void> {
    const stored = await this.options.store.put(shard.bytes);
    this.shards.push({ split, index, sha256: stored.sha256, bytes: stored.bytes, rows: shard.rows });
    this.shardBytes += stored.bytes;
    await mkdir(this.scratch, { recursive: true });
    await appendFile(state.indexFile, shard.index);
    state.rows += shard.rows;
    this.report();
  }

  private report(): void {
    this.options.onProgress?.({
      accepted: this.acceptedCount,
      rejected: this.rejectedCount,
      shards: this.shards.length,
      shardBytes: this.shardBytes,
    });
  }

  private assertOpen(): void {
    if (this.finished) throw new Error("this builder has already finished its version");
  }

  async finish(): Promise<BuiltVersion> {
    this.assertOpen();
    try {
      for (const [split, state] of this.splits) if (state.bufferBytes > 0) await this.flush(split, state);
      await this.stored;
    } finally {
      await this.pool?.close();
    }
    this.finished = true;

    // Manifest order: splits by name, then shard index. Paths need the shard count, known only now.
    const ordered = [...this.shards].sort((a, b) =>
      a.split === b.split ? a.index - b.index : a.split < b.split ? -1 : 1,
    );
    const ordinalOf = new Map(ordered.map((s, i) => [`${s.split}\u0000${s.index}`, i]));
    const firstPosition: number[] = [];
    let position = 0;
    for (const s of ordered) {
      firstPosition.push(position);
      position += s.rows;
    }
    const shards: ShardEntry[] = ordered.map((s) => ({
      path: shardPath(s.split, s.index, this.splits.get(s.split)?.shards ?? 0),
      split: s.split,
      sha256: s.sha256,
      bytes: s.bytes,
      rows: s.rows,
    }));

    const rejected: RejectedEntry[] = [];
    if (this.rejectedCount > 0) {
      const stored = await this.options.store.put(await readFile(this.rejectedFile));
      rejected.push({
        path: this.options.rejectedPath ?? "rejected/input.jsonl",
        ...stored,
        rows: this.rejectedCount,
      });
    }

    const splits = Object.fromEntries(
      [...this.splits.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, s]) => [
          name,
          this.options.tokenizer ? { rows: s.rows, tokens: s.tokens } : { rows: s.rows },
        ]),
    );
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      dataset: this.options.dataset,
      kind: this.options.kind,
      schema: { fingerprint: schemaFingerprint(this.options.kind) },
      pipeline: {
        name: this.options.pipeline.name,
        configHash: configHash(this.options.pipeline.config),
        ...(this.options.recordConfig ? { config: this.options.pipeline.config } : {}),
      },
      parents: [...new Set(this.options.parents ?? [])].sort(),
      splits,
      ...(this.options.tokenizer ? { tokenizer: this.options.tokenizer } : {}),
      shards,
      rejected,
    };
    const bytes = manifestBytes(manifest);
    const hash = manifestHash(manifest);
    await this.options.store.put(bytes);
    const card = datasetCard(manifest, hash, this.options.description);
    const cardStored = await this.options.store.put(new TextEncoder().encode(card));

    // Within a split, shards are flushed in index order; reading the splits by name gives manifest order.
    const indexFiles = [...this.splits.entries()]
      .filter(([, s]) => s.rows > 0)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, s]) => s.indexFile);
    const scratch = this.scratch;
    return {
      hash,
      manifest,
      manifestBytes: bytes,
      card,
      cardSha256: cardStored.sha256,
      async *sampleIndex(batchSize = 5_000) {
        // Each split's spill file is in shard order; entries carry (split, shard index, row), mapped to manifest order.
        let batch: SampleIndexEntry[] = [];
        for (const indexFile of indexFiles) {
          const lines = createInterface({
            input: createReadStream(indexFile),
            crlfDelay: Number.POSITIVE_INFINITY,
          });
          for await (const line of lines) {
            const [sampleId, contentHash, split, source, shardIndex, row] = JSON.parse(line) as [
              string,
              string,
              string,
              string,
              number,
              number,
            ];
            const shardOrdinal = ordinalOf.get(`${split}\u0000${shardIndex}`);
            if (shardOrdinal === undefined)
              throw new Error(`sample index names an unknown shard ${split}/${shardIndex}`);
            batch.push({
              sampleId,
              contentHash,
              split,
              source,
              shardOrdinal,
              row,
              position: (firstPosition[shardOrdinal] ?? 0) + row,
            });
            if (batch.length >= batchSize) {
              yield batch;
              batch = [];
            }
          }
        }
        if (batch.length) yield batch;
      },
      dispose: () => rm(scratch, { recursive: true, force: true }),
    };
  }

  /** Abandon the build: stop the workers, remove scratch files. Shards already stored stay as unreferenced blobs. */
  async abort(): Promise<void> {
    this.finished = true;
    await this.pool?.close();
    // A shard that was being stored still appends its index lines: let it finish before the files go.
    await this.stored.catch(() => {});
    await rm(this.scratch, { recursive: true, force: true });
  }
}
