/**
 * @module Running a pipeline: read the sources in units of `batchSize` records, process units on worker
 * threads (each unit's output is saved before it counts as done, so a run restarted after a crash redoes
 * only unfinished units), then deduplicate over every kept record, then write the version.
 *
 * Memory: units in flight are bounded (twice the workers), the builder is bounded by its shard limits, and
 * the deduplication phase holds per kept record only its keys and signature (about 0.6 KB with the default
 * 14 × 8 signature), plus the texts of candidate pairs while it verifies them.
 */
import { createReadStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  chooseKeeper,
  decideDuplicates,
  dedupText,
  jaccard,
  LshIndex,
  shingleHashes,
} from "@sovereign/dedup";
import {
  isTeacherStep,
  type PipelineProgress,
  type PipelineSpec,
  type PipelineStep,
  type StepStats,
} from "@sovereign/schemas";
import {
  type BlobStore,
  type BuiltVersion,
  canonicalJson,
  DatasetBuilder,
  type RawRecord,
  type RejectedRecord,
  type ShardLimits,
  sha256Hex,
  WorkerPool,
} from "@sovereign/shards";
import {
  type ReadLimits,
  type RecordReader,
  readSource,
  resolveFiles,
  type SourceContext,
} from "@sovereign/sources";
import type { TeacherEndpoints } from "@sovereign/teacher";
import { QWEN3_TOKENIZER_ID } from "@sovereign/tokenizer";
import { valueAt } from "./fields";
import { emptyStats, mergeStats, stepName } from "./record-steps";
import { teacherTargets } from "./teacher";
import {
  decodeSignature,
  hasherFor,
  INPUT_STEP,
  isRecordStep,
  KEPT_PREFIX,
  type KeptLine,
  nearText,
  processUnit,
  type RejectedLine,
  transferable,
  type UnitJob,
  type UnitResult,
} from "./unit";

export type CompletedUnit = {
  unit: number;
  source: number;
  firstRecord: number;
  records: number;
  outputPath: string;
  outputSha256: string;
  counts: UnitResult["counts"];
};

/** Where a run keeps the units it has finished: the curator keeps them in Postgres. */
export type UnitStore = {
  completed(): Promise<CompletedUnit[]>;
  save(unit: CompletedUnit): Promise<void>;
};

export type PriorMatch = { version: string; sampleId: string };
/** Keys and band keys of earlier versions (the persistent index), for deduplicating against them. */
export type PriorIndex = {
  exactMatches(
    datasets: readonly string[],
    scheme: string,
    keys: readonly string[],
  ): Promise<Map<string, PriorMatch>>;
  bandMatches(
    datasets: readonly string[],
    scheme: string,
    keys: readonly bigint[],
  ): Promise<{ key: bigint; match: PriorMatch; signature: Uint32Array }[]>;
};

export type RunPipelineOptions = {
  spec: PipelineSpec;
  /** Relative source paths are resolved here. */
  baseDir: string;
  /**
   * Confine `files` sources to these folders (links followed; never `/proc`, `/sys` or `/dev`): for a spec the
   * caller did not write itself. Absent: sources read whatever this process may.
   */
  roots?: readonly string[];
  /** Downloads (Hub files) are cached here. */
  cacheDir: string;
  /** Teacher answers (`generate-constrained`, `render-thai`) are cached here; default `${cacheDir}/teacher`. */
  teacherCacheDir?: string;
  /** The run's own scratch folder: unit outputs live here until the version is written. */
  scratchDir: string;
  store: BlobStore;
  units: UnitStore;
  prior?: PriorIndex;
  formats?: Record<string, RecordReader>;
  /** Reads `dataset` sources: the samples of a version the caller's registry holds. */
  datasets?: SourceContext["datasets"];
  limits?: Partial<ShardLimits>;
  /**
   * The teacher endpoints the operator configured: a teacher step's requests go to the URL, and carry the key,
   * of the endpoints it names here, never to a URL from the spec.
   */
  teachers?: TeacherEndpoints;
  /** The readers' size limits (whole-file JSON, CSV rows, JSONL lines). */
  readLimits?: ReadLimits;
  /** Worker threads for units; default one per core. 0 processes units in this thread. */
  workers?: number;
  signal?: AbortSignal;
  onProgress?: (progress: PipelineProgress) => void;
  env?: NodeJS.ProcessEnv;
};

export type DedupIndexLine =
  | { e: string; key: string; id: string }
  | { b: string; id: string; keys: string[]; sig: string };

export type PipelineResult = {
  built: BuiltVersion;
  steps: StepStats[];
  /** The kept samples' exact keys and band keys for the persistent index, as JSON lines in this file. */
  indexFile: string;
};

export class PipelineCancelledError extends Error {
  constructor() {
    super("the run was cancelled");
  }
}

export class ErrorBudgetError extends Error {
  constructor(
    readonly malformed: number,
    readonly read: number,
    readonly byReason: Record<string, number>,
    readonly examples: string[],
  ) {
    const reasons = Object.entries(byReason)
      .map(([r, n]) => `${n} ${r}`)
      .join(", ");
    super(
      `${malformed} of ${read} input records could not be used (${reasons}), over the error budget. First ones:\n` +
        examples.map((e) => `  ${e}`).join("\n"),
    );
  }
}

const UNIT_WORKER = new URL("./unit-worker.cjs", import.meta.url);

/** A short hash naming what a dedup step compares, so only like keys are ever matched across versions. */
export function dedupScheme(step: PipelineStep): string {
  if (step.type === "dedup-exact")
    return sha256Hex(canonicalJson({ scope: step.scope, key: step.key ?? [] })).slice(0, 16);
  if (step.type === "dedup-near") {
    const { bands, rows, seed, shingle, minLength, fields } = step;
    return sha256Hex(canonicalJson({ bands, rows, seed, shingle, minLength, fields })).slice(0, 16);
  }
  throw new Error(`${step.type} is not a deduplication step`);
}

export async function runPipeline(options: RunPipelineOptions): Promise<PipelineResult> {
  await mkdir(options.scratchDir, { recursive: true });
  const done = new Map((await options.units.completed()).map((u) => [u.unit, u]));
  const started = Date.now();
  const reading = await readUnits(options, done, started);
  const steps = reading.steps;
  throwIfCancelled(options.signal);

  const units = [...done.values()].sort((a, b) => a.unit - b.unit);
  const decisions = await deduplicate(options, units, steps, reading.progress);
  throwIfCancelled(options.signal);
  const result = await writeVersion(options, units, decisions, steps, reading.progress);
  return result;
}

function throwIfCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new PipelineCancelledError();
}

type ReadingState = { steps: StepStats[]; progress: PipelineProgress };

async function readUnits(
  options: RunPipelineOptions,
  done: Map<number, CompletedUnit>,
  started: number,
): Promise<ReadingState> {
  const { spec } = options;
  const ctx = {
    baseDir: options.baseDir,
    ...(options.roots ? { roots: options.roots } : {}),
    cacheDir: options.cacheDir,
    formats: options.formats ?? {},
    env: options.env ?? process.env,
    ...(options.datasets ? { datasets: options.datasets } : {}),
    ...(options.readLimits ? { limits: options.readLimits } : {}),
  };
  // Resolved before any work, so a run whose endpoints this worker does not have fails at once.
  const firstStep = spec.steps[0];
  const teachers =
    firstStep && isTeacherStep(firstStep) ? teacherTargets(spec, firstStep, options.teachers) : undefined;
  let bytesTotal = 0;
  for (const source of spec.sources) {
    if (source.type !== "files") continue;
    for (const file of await resolveFiles(source, ctx)) bytesTotal += (await stat(file.path)).size;
  }
  const steps: StepStats[] = [];
  const progress: PipelineProgress = {
    phase: "reading",
    recordsRead: 0,
    bytesRead: 0,
    bytesTotal,
    unitsDone: 0,
    kept: 0,
    rejected: 0,
    rate: 0,
    etaSeconds: null,
    steps,
  };
  let malformed = 0;
  const byReason: Record<string, number> = {};
  const examples: string[] = [];
  let processedRecords = 0;
  const account = (unit: CompletedUnit, fresh: boolean) => {
    progress.unitsDone++;
    progress.recordsRead += unit.counts.records;
    progress.bytesRead += unit.counts.bytes;
    progress.kept += unit.counts.kept;
    progress.rejected += unit.counts.rejected;
    mergeStats(steps, unit.counts.steps);
    malformed += unit.counts.malformed;
    const input = unit.counts.steps.find((s) => s.step === INPUT_STEP);
    for (const [reason, n] of Object.entries(input?.dropped ?? {}))
      byReason[reason] = (byReason[reason] ?? 0) + n;
    if (fresh) processedRecords += unit.counts.records;
    const seconds = (Date.now() - started) / 1000;
    progress.rate = seconds > 0 ? processedRecords / seconds : 0;
    const bytesPerSecond =
      seconds > 0
        ? (progress.bytesRead * (processedRecords / Math.max(1, progress.recordsRead))) / seconds
        : 0;
    progress.etaSeconds =
      bytesTotal > 0 && bytesPerSecond > 0
        ? Math.max(0, (bytesTotal - progress.bytesRead) / bytesPerSecond)
        : null;
    options.onProgress?.({ ...progress, steps: [...steps] });
    checkBudget();
  };
  const checkBudget = () => {
    const { maxRecords, maxShare } = spec.errorBudget;
    const overCount = maxRecords !== undefined && malformed > maxRecords;
    const overShare =
      maxShare !== undefined && progress.recordsRead >= 1_000 && malformed / progress.recordsRead > maxShare;
    if (overCount || overShare)
      throw new ErrorBudgetError(malformed, progress.recordsRead, byReason, examples);
  };
  for (const unit of [...done.values()].sort((a, b) => a.unit - b.unit)) account(unit, false);

  const workers = options.workers ?? availableParallelism();
  const pool = workers > 0 ? new WorkerPool(UNIT_WORKER, workers, "processing pipeline units") : undefined;
  pool?.start();
  const inFlight = new Set<Promise<void>>();
  let failure: Error | undefined;
  // Teacher tokens spent by this process's units, so far: each unit is given what is left of the budget.
  let teacherTokensSpent = 0;
  const onWorker = (workerPool: WorkerPool, job: UnitJob): Promise<UnitResult> =>
    workerPool.run<UnitResult>(job).catch((error: Error) => {
      // Structured cloning recurses: a record nested deep enough fails the post, so records go as their text.
      if (!(error instanceof RangeError || error.name === "DataCloneError")) throw error;
      return workerPool.run<UnitResult>({ ...job, records: job.records.map(transferable) });
    });
  const finish = async (job: UnitJob, first: number) => {
    const result: UnitResult = pool ? await onWorker(pool, job) : await processUnit(job);
    teacherTokensSpent += result.teacherTokens ?? 0;
    const name = `unit-${String(job.unit).padStart(6, "0")}.jsonl`;
    const path = join(options.scratchDir, name);
    await writeFile(`${path}.tmp`, result.lines);
    await rename(`${path}.tmp`, path);
    if (examples.length < 20 && result.counts.malformed > 0) {
      for (const line of result.lines.split("\n")) {
        if (!line.includes(`"step":"${INPUT_STEP}"`)) continue;
        const r = JSON.parse(line) as RejectedLine;
        if (examples.length < 20) examples.push(`${r.location}: ${r.reason}: ${r.message}`);
      }
    }
    const completed: CompletedUnit = {
      unit: job.unit,
      source: job.source.index,
      firstRecord: first,
      records: job.records.length,
      outputPath: name,
      outputSha256: sha256Hex(result.lines),
      counts: result.counts,
    };
    await options.units.save(completed);
    done.set(job.unit, completed);
    account(completed, true);
  };
  const dispatch = async (job: UnitJob, first: number) => {
    while (inFlight.size >= Math.max(1, workers) * 2) await Promise.race(inFlight);
    if (failure) throw failure;
    throwIfCancelled(options.signal);
    const task = finish(job, first)
      .catch((error: Error) => {
        failure ??= error;
      })
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  };

  try {
    let unitNo = 0;
    for (const [sourceIndex, source] of spec.sources.entries()) {
      const priority = source.priority ?? 0;
      const base = {
        kind: spec.dataset.kind,
        steps: spec.steps,
        teacherCacheDir: options.teacherCacheDir ?? join(options.cacheDir, "teacher"),
        ...(teachers ? { teachers } : {}),
        source: {
          index: sourceIndex,
          name: source.name,
          priority,
          ...(source.mapping ? { mapping: source.mapping } : {}),
        },
      };
      let batch: RawRecord[] = [];
      let first = 0;
      let position = 0;
      const flush = async () => {
        const unit = unitNo++;
        const existing = done.get(unit);
        if (existing) {
          if (
            existing.source !== sourceIndex ||
            existing.firstRecord !== first ||
            existing.records !== batch.length
          )
            throw new Error(
              `source ${source.name} changed since this run started: unit ${unit} was records ${existing.firstRecord}–${existing.firstRecord + existing.records - 1} of source ${existing.source}, now ${first}–${first + batch.length - 1} of ${sourceIndex}`,
            );
        } else {
          await dispatch({ ...base, unit, records: batch, teacherTokensSpent }, first);
        }
        first = position;
        batch = [];
      };
      for await (const record of readSource(source, ctx)) {
        const { file: _file, ...raw } = record as RawRecord & { file?: string };
        batch.push(raw as RawRecord);
        position++;
        if (batch.length >= spec.batchSize) await flush();
        if (failure) throw failure;
      }
      if (batch.length > 0) await flush();
    }
    await Promise.all(inFlight);
    if (failure) throw failure;
  } finally {
    await Promise.allSettled(inFlight);
    await pool?.close();
  }
  // A budget in shares is checked against every record once the sources are read, however few they were.
  const { maxShare } = spec.errorBudget;
  if (
    maxShare !== undefined &&
    progress.recordsRead > 0 &&
    progress.recordsRead < 1_000 &&
    malformed / progress.recordsRead > maxShare
  )
    throw new ErrorBudgetError(malformed, progress.recordsRead, byReason, examples);
  return { steps, progress };
}

/** The text of each finished unit's output, in unit order, checked against its recorded sha256. */
async function* unitTexts(scratchDir: string, units: readonly CompletedUnit[]): AsyncGenerator<string> {
  for (const unit of units) {
    const path = join(scratchDir, unit.outputPath);
    const text = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT")
        throw new Error(
          `the output of unit ${unit.unit} (${path}) is missing: the run's scratch folder was removed; start a new run`,
        );
      throw error;
    });
    if (sha256Hex(text) !== unit.outputSha256)
      throw new Error(
        `the output of unit ${unit.unit} (${path}) does not match its recorded sha256: start a new run`,
      );
    yield text;
  }
}

/** Every line of the finished units, in unit order. */
async function* unitLines(
  scratchDir: string,
  units: readonly CompletedUnit[],
): AsyncGenerator<KeptLine | RejectedLine> {
  for await (const text of unitTexts(scratchDir, units))
    for (const line of text.split("\n")) if (line) yield JSON.parse(line) as KeptLine | RejectedLine;
}

/**
 * The kept records of the finished units with their position among kept records. Audit lines are skipped
 * without parsing them (a kept line starts with `{"k":1`, see `KeptLine`), and with `only`, so are the kept
 * records not in it: deduplication reads back the few texts it needs, not the whole output.
 */
async function* keptLines(
  scratchDir: string,
  units: readonly CompletedUnit[],
  only?: ReadonlySet<number>,
): AsyncGenerator<{ index: number; line: KeptLine }> {
  let index = 0;
  for await (const text of unitTexts(scratchDir, units)) {
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf("\n", start);
      if (end < 0) end = text.length;
      if (text.startsWith(KEPT_PREFIX, start)) {
        if (!only || only.has(index)) yield { index, line: JSON.parse(text.slice(start, end)) as KeptLine };
        index++;
      }
      start = end + 1;
    }
  }
}

type DedupDrop = { step: string; reason: string; message: string; detail: unknown };

/** Decide, over every kept record, which ones deduplication drops: kept index → why. */
async function deduplicate(
  options: RunPipelineOptions,
  units: readonly CompletedUnit[],
  steps: StepStats[],
  progress: PipelineProgress,
): Promise<Map<number, DedupDrop>> {
  const { spec } = options;
  const drops = new Map<number, DedupDrop>();
  const dedupSteps = spec.steps.map((step, i) => ({ step, i })).filter(({ step }) => !isRecordStep(step));
  if (dedupSteps.length === 0) return drops;
  const kind = spec.dataset.kind;

  type Item = {
    index: number;
    priority: number;
    contentHash: string;
    sampleId: string;
    exact: Record<string, string>;
    sig: Record<string, string>;
    distinct?: string;
  };
  const items: Item[] = [];
  const distinctPaths = new Map<string, string[]>();
  for (const { step, i } of dedupSteps)
    if (step.type === "dedup-near" && step.distinctBy.length)
      distinctPaths.set(stepName(i, step.type), step.distinctBy);
  const allDistinct = [...new Set([...distinctPaths.values()].flat())];
  for await (const { line } of keptLines(options.scratchDir, units)) {
    items.push({
      index: items.length,
      priority: line.priority,
      contentHash: line.contentHash,
      sampleId: line.sample.id,
      exact: line.exact,
      sig: line.sig,
      ...(allDistinct.length
        ? { distinct: JSON.stringify(allDistinct.map((p) => valueAt(line.sample, p) ?? null)) }
        : {}),
    });
  }

  for (const { step, i } of dedupSteps) {
    const name = stepName(i, step.type);
    const stats = emptyStats(i, step);
    const alive = items.filter((item) => !drops.has(item.index));
    stats.in = alive.length;
    progress.phase = "dedup";
    progress.phaseDone = 0;
    progress.phaseTotal = alive.length;
    options.onProgress?.({ ...progress, steps: [...steps, stats] });
    const drop = (index: number, reason: string, message: string, detail: unknown) => {
      drops.set(index, { step: name, reason, message, detail });
      stats.dropped[reason] = (stats.dropped[reason] ?? 0) + 1;
    };
    if (step.type === "dedup-exact") {
      const groups = new Map<string, Item[]>();
      for (const item of alive) {
        const key = item.exact[name] as string;
        const group = groups.get(key);
        if (group) group.push(item);
        else groups.set(key, [item]);
      }
      for (const group of groups.values()) {
        if (group.length < 2) continue;
        const keeper = chooseKeeper(group) as Item;
        for (const item of group) {
          if (item === keeper) continue;
          drop(item.index, "duplicate", `same ${step.scope} as sample ${keeper.sampleId}`, {
            kept: keeper.sampleId,
            key: item.exact[name],
          });
        }
      }
      if (step.against.length && options.prior) {
        const scheme = dedupScheme(step);
        const left = alive.filter((item) => !drops.has(item.index));
        for (let at = 0; at < left.length; at += 1_000) {
          const chunk = left.slice(at, at + 1_000);
          const matches = await options.prior.exactMatches(
            step.against,
            scheme,
            chunk.map((item) => item.exact[name] as string),
          );
          for (const item of chunk) {
            const match = matches.get(item.exact[name] as string);
            if (match)
              drop(
                item.index,
                "duplicate-of-version",
                `same ${step.scope} as sample ${match.sampleId} of version ${match.version.slice(0, 12)}`,
                match,
              );
          }
        }
      }
    } else if (step.type === "dedup-near") {
      const hasher = hasherFor(step);
      const signatures = new Map<number, Uint32Array>();
      for (const item of alive) {
        const sig = item.sig[name];
        if (sig) signatures.set(item.index, decodeSignature(sig));
      }
      // Candidate pairs first, so only the texts of candidates are read back to verify them.
      const lsh = new LshIndex();
      const needed = new Set<number>();
      for (const [index, signature] of signatures) {
        const keys = hasher.bandKeys(signature);
        const candidates = lsh.candidates(keys);
        if (candidates.length) {
          needed.add(index);
          for (const c of candidates) needed.add(c);
        }
        lsh.add(index, keys);
      }
      const shingles = new Map<number, Uint32Array>();
      if (needed.size) {
        for await (const { index, line } of keptLines(options.scratchDir, units, needed))
          shingles.set(index, shingleHashes(dedupText(nearText(kind, line.sample, step)), step.shingle));
      }
      const paths = distinctPaths.get(name);
      const byIndex = new Map(items.map((item) => [item.index, item]));
      const decided = await decideDuplicates({
        items: alive.map((item) => ({
          index: item.index,
          priority: item.priority,
          contentHash: item.contentHash,
          exactKey: item.exact[name] as string,
          ...(signatures.has(item.index) ? { signature: signatures.get(item.index) as Uint32Array } : {}),
        })),
        hasher,
        threshold: step.threshold,
        verify: (a, b) => jaccard(shingles.get(a) as Uint32Array, shingles.get(b) as Uint32Array),
        ...(paths
          ? { canMerge: (a: number, b: number) => byIndex.get(a)?.distinct === byIndex.get(b)?.distinct }
          : {}),
      });
      for (const d of decided.dropped) {
        const kept = byIndex.get(d.keptIndex) as Item;
        drop(
          d.index,
          d.reason,
          `${d.reason === "duplicate" ? "same text as" : `${Math.round(d.similarity * 100)}% similar to`} sample ${kept.sampleId}`,
          {
            kept: kept.sampleId,
            cluster: d.cluster,
            similarity: d.similarity,
          },
        );
      }
      if (step.against.length && options.prior) {
        const scheme = dedupScheme(step);
        for (const [index, signature] of signatures) {
          if (drops.has(index)) continue;
          const matches = await options.prior.bandMatches(step.against, scheme, hasher.bandKeys(signature));
          let best: { match: PriorMatch; similarity: number } | undefined;
          for (const m of matches) {
            const similarity = hasher.estimate(signature, m.signature);
            if (similarity >= step.threshold && (!best || similarity > best.similarity))
              best = { match: m.match, similarity };
          }
          if (best)
            drop(
              index,
              "near-duplicate-of-version",
              `${Math.round(best.similarity * 100)}% similar (estimated) to sample ${best.match.sampleId} of version ${best.match.version.slice(0, 12)}`,
              { ...best.match, similarity: best.similarity },
            );
        }
      }
    }
    stats.out = stats.in - Object.values(stats.dropped).reduce((a, b) => a + b, 0);
    steps.push(stats);
    progress.phaseDone = alive.length;
    options.onProgress?.({ ...progress, steps: [...steps] });
    throwIfCancelled(options.signal);
  }
  return drops;
}

/** The split of a kept sample under the spec's rule. */
export function splitOf(spec: PipelineSpec, sourceIndex: number, contentHash: string): string {
  const rule = spec.splits;
  if (rule.by === "source") return spec.sources[sourceIndex]?.split ?? "train";
  const names = Object.keys(rule.shares).sort();
  const h = sha256Hex(`${rule.seed}:${contentHash}`);
  const u = Number.parseInt(h.slice(0, 12), 16) / 2 ** 48;
  let acc = 0;
  for (const name of names) {
    acc += rule.shares[name] as number;
    if (u < acc) return name;
  }
  return names[names.length - 1] as string;
}

async function writeVersion(
  options: RunPipelineOptions,
  units: readonly CompletedUnit[],
  drops: Map<number, DedupDrop>,
  steps: StepStats[],
  progress: PipelineProgress,
): Promise<PipelineResult> {
  const { spec } = options;
  const hasTokens = spec.steps.some((s) => s.type === "tokens");
  const builder = new DatasetBuilder({
    dataset: spec.dataset.name,
    kind: spec.dataset.kind,
    store: options.store,
    scratchDir: options.scratchDir,
    pipeline: { name: spec.name, config: spec },
    recordConfig: true,
    rejectedPath: "rejected/records.jsonl",
    ...(hasTokens ? { tokenizer: QWEN3_TOKENIZER_ID } : {}),
    parents: spec.parents,
    description: spec.dataset.description || spec.description,
    ...(options.limits ? { limits: options.limits } : {}),
  });
  const indexFile = join(options.scratchDir, "dedup-index.jsonl");
  const indexLines: string[] = [];
  await writeFile(indexFile, "");
  const schemes = spec.steps.map((step) => (isRecordStep(step) ? undefined : dedupScheme(step)));
  const sourceIndex = new Map(spec.sources.map((s, i) => [s.name, i]));
  const build: StepStats = { ...emptyStats(spec.steps.length, { type: "build" }), step: "build" };
  progress.phase = "writing";
  progress.phaseDone = 0;
  progress.phaseTotal = progress.kept;
  let index = 0;
  try {
    for await (const line of unitLines(options.scratchDir, units)) {
      if (!("k" in line)) {
        const { r: _r, ...record } = line;
        await builder.reject(record as RejectedRecord);
        continue;
      }
      const at = index++;
      const drop = drops.get(at);
      const { sample } = line;
      if (drop) {
        await builder.reject({
          ...drop,
          action: "dropped",
          location: line.location,
          source: sample.source,
          record: sample,
        });
        continue;
      }
      build.in++;
      const split = splitOf(spec, sourceIndex.get(sample.source) ?? 0, line.contentHash);
      const duplicate = await builder.add(split, sample, line.location, line.tokens);
      if (duplicate) {
        build.dropped["duplicate-id"] = (build.dropped["duplicate-id"] ?? 0) + 1;
        await builder.reject({ ...duplicate, step: "build", action: "dropped", source: sample.source });
        continue;
      }
      build.out++;
      spec.steps.forEach((step, i) => {
        const scheme = schemes[i];
        if (!scheme) return;
        const name = stepName(i, step.type);
        if (step.type === "dedup-exact")
          indexLines.push(JSON.stringify({ e: scheme, key: line.exact[name], id: sample.id }));
        const sig = line.sig[name];
        if (step.type === "dedup-near" && sig) {
          const keys = hasherFor(step).bandKeys(decodeSignature(sig));
          indexLines.push(JSON.stringify({ b: scheme, id: sample.id, keys: keys.map(String), sig }));
        }
      });
      if (indexLines.length >= 2_000) await flushIndex();
      if (at % 1_000 === 0) {
        progress.phaseDone = at;
        options.onProgress?.({ ...progress, steps: [...steps] });
      }
      throwIfCancelled(options.signal);
    }
    await flushIndex();
    steps.push(build);
    const built = await builder.finish();
    progress.phaseDone = progress.kept;
    options.onProgress?.({ ...progress, steps: [...steps] });
    return { built, steps, indexFile };
  } catch (error) {
    await builder.abort();
    throw error;
  }

  async function flushIndex() {
    if (!indexLines.length) return;
    await writeFile(indexFile, `${indexLines.join("\n")}\n`, { flag: "a" });
    indexLines.length = 0;
  }
}

/** Lines of a dedup index file written by a run. */
export async function* readIndexLines(path: string): AsyncGenerator<DedupIndexLine> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) if (line) yield JSON.parse(line) as DedupIndexLine;
}

/** Remove a finished run's scratch folder. */
export async function removeRunScratch(scratchDir: string): Promise<void> {
  await rm(scratchDir, { recursive: true, force: true });
}
