/**
 * @module One unit of work: a batch of one source's records → mapped and validated samples → record steps →
 * the keys and MinHash signatures deduplication needs. Pure given its input, so a unit redone after a crash
 * gives the same output, in a worker thread or not.
 */
import { dedupText, exactKey, MinHasher, shingleHashes } from "@sovereign/dedup";
import {
  contentFields,
  type DatasetKind,
  type FieldMapping,
  isTeacherStep,
  type PipelineStep,
  type RecordStep,
  type Sample,
  type StepStats,
  writableAsJson,
} from "@sovereign/schemas";
import {
  canonicalJson,
  completeSample,
  keepableRecord,
  type RawRecord,
  type RejectedRecord,
  recordText,
  sampleContentHash,
  sha256Hex,
  transferableJson,
} from "@sovereign/shards";
import { mapRecord } from "@sovereign/sources";
import { loadQwen3Tokenizer } from "@sovereign/tokenizer";
import { selectedSlots, valueAt } from "./fields";
import { type GeneratedOutcome, generateConstrained, type SeedRecord } from "./generate";
import { applyRecordSteps, emptyStats, type RecordContext, stepName } from "./record-steps";
import { renderThai } from "./render-thai";
import type { TeacherTargets } from "./teacher";

/** A record as a unit takes it: as read, or, to reach a worker thread, with its value as JSON text. */
export type UnitRecord = RawRecord | { ok: true; location: string; json: string };

/** The record with its value as JSON text when the value is too deep for structured cloning. */
export function transferable(record: UnitRecord): UnitRecord {
  if (!record.ok || !("value" in record) || writableAsJson(record.value)) return record;
  return { ok: true, location: record.location, json: transferableJson(record.value) };
}

export type UnitJob = {
  unit: number;
  kind: DatasetKind;
  steps: PipelineStep[];
  source: { index: number; name: string; priority: number; mapping?: FieldMapping };
  records: UnitRecord[];
  /** The teacher's persistent cache, for a teacher step (`generate-constrained`, `render-thai`). */
  teacherCacheDir?: string;
  /** Teacher tokens earlier units of this run spent, counted against the step's budget. */
  teacherTokensSpent?: number;
  /**
   * The configured endpoints of a teacher step, keys included: a unit job lives in memory and in the message to
   * its worker thread only, and is never stored.
   */
  teachers?: TeacherTargets;
};

/**
 * A sample that went through every record step, with what deduplication needs. `k` comes first, so a kept
 * line starts with `KEPT_PREFIX` and readers can pass over audit lines (`{"r":1,…`) without parsing them.
 */
export type KeptLine = {
  k: 1;
  sample: Sample;
  location: string;
  priority: number;
  contentHash: string;
  tokens?: number;
  /** Exact keys by dedup step name. */
  exact: Record<string, string>;
  /** MinHash signatures by dedup step name, base64 of the little-endian uint32 values; absent below minLength. */
  sig: Record<string, string>;
};
export type RejectedLine = { r: 1 } & RejectedRecord;

export type UnitResult = {
  /** The unit's output as JSON lines, kept and rejected records in input order. */
  lines: string;
  counts: {
    records: number;
    bytes: number;
    kept: number;
    rejected: number;
    malformed: number;
    steps: StepStats[];
  };
  /** Teacher tokens this unit's new requests spent (cached answers are free). */
  teacherTokens?: number;
};

export const INPUT_STEP = "0-input";
export const KEPT_PREFIX = '{"k":1,';

const hashers = new Map<string, MinHasher>();
/** One hasher per settings: its permutations are worth keeping between units. */
export function hasherFor(step: Extract<PipelineStep, { type: "dedup-near" }>): MinHasher {
  const options = {
    bands: step.bands,
    rows: step.rows,
    seed: step.seed,
    shingle: step.shingle,
    threshold: step.threshold,
    minLength: step.minLength,
  };
  const key = JSON.stringify(options);
  let hasher = hashers.get(key);
  if (!hasher) {
    hasher = new MinHasher(options);
    hashers.set(key, hasher);
  }
  return hasher;
}

export function isRecordStep(step: PipelineStep): step is RecordStep {
  return step.type !== "dedup-exact" && step.type !== "dedup-near";
}

/** The text near-duplicate detection compares: the selected fields, one after another. */
export function nearText(
  kind: DatasetKind,
  sample: Sample,
  step: Extract<PipelineStep, { type: "dedup-near" }>,
): string {
  return selectedSlots(kind, sample, step.fields)
    .map((slot) => slot.value)
    .join("\n");
}

/** The exact-dedup key of a sample under a step's scope. */
export function exactKeyOf(
  kind: DatasetKind,
  sample: Sample,
  step: Extract<PipelineStep, { type: "dedup-exact" }>,
): string {
  if (step.scope === "key") return exactKey((step.key ?? []).map((path) => valueAt(sample, path) ?? null));
  if (step.scope === "prompt") {
    if (kind === "chat") {
      const s = sample as Extract<Sample, { messages: unknown }>;
      return exactKey({
        messages: s.messages.filter((m) => m.role === "system" || m.role === "user"),
        tools: s.tools,
      });
    }
    if (kind === "rl-prompt") return exactKey((sample as Extract<Sample, { prompt: unknown }>).prompt);
  }
  const content: Record<string, unknown> = {};
  for (const field of contentFields[kind]) content[field] = (sample as Record<string, unknown>)[field];
  return exactKey(content);
}

export async function processUnit(job: UnitJob): Promise<UnitResult> {
  const first = job.steps[0];
  const teacherStep = first && isTeacherStep(first) ? first : undefined;
  const recordSteps = job.steps.filter(isRecordStep).filter((s) => !isTeacherStep(s));
  const context: RecordContext = { kind: job.kind };
  if (recordSteps.some((s) => s.type === "tokens")) context.tokenizer = await loadQwen3Tokenizer();
  const input: StepStats = { ...emptyStats(-1, { type: "input" }), step: INPUT_STEP };
  const teacherStats = teacherStep ? emptyStats(0, teacherStep) : undefined;
  const stats = recordSteps.map((step) => emptyStats(job.steps.indexOf(step), step));
  // Each record's output lines in input order: the rejected input at once, the valid samples once the steps ran.
  const slots: (string[] | SeedRecord)[] = [];
  let kept = 0;
  let rejected = 0;
  let bytes = 0;
  const reject = (record: RejectedRecord) => {
    input.dropped[record.reason] = (input.dropped[record.reason] ?? 0) + 1;
    const kept = { ...record, record: keepableRecord(record.record) };
    slots.push([
      JSON.stringify({ r: 1, step: INPUT_STEP, action: "dropped", source: job.source.name, ...kept }),
    ]);
    rejected++;
  };
  for (const record of job.records) {
    input.in++;
    if (!record.ok) {
      bytes += record.raw.length;
      reject({
        reason: record.reason,
        location: record.location,
        message: record.message,
        record: record.raw,
      });
      continue;
    }
    const value: unknown = "json" in record ? JSON.parse(record.json) : record.value;
    bytes += approximateBytes(value);
    // Mapped and checked against the kind's input schema, which is where every input's values are checked.
    const mapped = mapRecord(job.kind, value, job.source.mapping);
    if (!mapped.ok) {
      reject({
        reason: mapped.reason,
        location: record.location,
        message: mapped.message,
        record: value,
      });
      continue;
    }
    input.out++;
    const sample = completeSample(job.kind, { source: job.source.name, ...mapped.input }, job.source.name);
    slots.push({ sample: sample as SeedRecord["sample"], location: record.location });
  }

  const seeds = slots.filter((slot): slot is SeedRecord => !Array.isArray(slot));
  let generated: Map<SeedRecord, GeneratedOutcome> | undefined;
  let teacherTokens: number | undefined;
  if (teacherStep && teacherStats) {
    if (!job.teacherCacheDir) throw new Error(`a ${teacherStep.type} step needs the unit's teacherCacheDir`);
    if (!job.teachers) throw new Error(`a ${teacherStep.type} step needs the unit's teacher endpoints`);
    const options = {
      targets: job.teachers,
      cacheDir: job.teacherCacheDir,
      stats: teacherStats,
      ...(job.teacherTokensSpent !== undefined ? { tokensSpent: job.teacherTokensSpent } : {}),
    };
    const result =
      teacherStep.type === "generate-constrained"
        ? await generateConstrained(teacherStep, seeds, options)
        : await renderThai(teacherStep, seeds, options);
    generated = new Map(seeds.map((seed, i) => [seed, result.outcomes[i] as GeneratedOutcome]));
    teacherTokens = result.tokens;
  }

  const out: string[] = [];
  for (const slot of slots) {
    if (Array.isArray(slot)) {
      out.push(...slot);
      continue;
    }
    let sample: Sample = slot.sample;
    const outcome = generated?.get(slot);
    if (outcome) {
      if (outcome.audit) out.push(JSON.stringify({ r: 1, ...outcome.audit }));
      if (!outcome.sample) {
        rejected++;
        continue;
      }
      sample = outcome.sample;
    }
    const line = keptLine(job, recordSteps, sample, slot.location, context, stats, out);
    if (!line) {
      rejected++;
      continue;
    }
    out.push(JSON.stringify(line));
    kept++;
  }
  return {
    lines: out.length ? `${out.join("\n")}\n` : "",
    counts: {
      records: job.records.length,
      bytes,
      kept,
      rejected,
      malformed: Object.values(input.dropped).reduce((a, b) => a + b, 0),
      steps: teacherStats ? [input, teacherStats, ...stats] : [input, ...stats],
    },
    ...(teacherTokens !== undefined ? { teacherTokens } : {}),
  };
}

/** The synchronous record steps over one sample (their audits go to `out`), then its dedup keys when kept. */
function keptLine(
  job: UnitJob,
  recordSteps: RecordStep[],
  sample: Sample,
  location: string,
  context: RecordContext,
  stats: StepStats[],
  out: string[],
): KeptLine | undefined {
  const outcome = applyRecordSteps(recordSteps, sample, location, context, stats);
  for (const audit of outcome.audits) out.push(JSON.stringify({ r: 1, ...audit }));
  if (!outcome.sample) return undefined;
  const line: KeptLine = {
    k: 1,
    sample: outcome.sample,
    location,
    priority: job.source.priority,
    contentHash: sampleContentHash(job.kind, outcome.sample),
    ...(outcome.tokens ? { tokens: outcome.tokens.total } : {}),
    exact: {},
    sig: {},
  };
  job.steps.forEach((step, i) => {
    if (step.type === "dedup-exact")
      line.exact[stepName(i, step.type)] = exactKeyOf(job.kind, outcome.sample as Sample, step);
    if (step.type === "dedup-near") {
      // The dedup view once for both keys (it costs as much as the hashing): the exact key of the compared
      // text, which is what texts too short for a signature are deduplicated by (`exactKey` of a string is
      // the hash of its view's JSON), and the MinHash signature of the view's shingles.
      const view = dedupText(nearText(job.kind, outcome.sample as Sample, step));
      line.exact[stepName(i, step.type)] = sha256Hex(canonicalJson(view));
      const signature =
        view.length >= step.minLength
          ? hasherFor(step).signatureOfShingles(shingleHashes(view, step.shingle))
          : undefined;
      if (signature) line.sig[stepName(i, step.type)] = encodeSignature(signature);
    }
  });
  return line;
}

/** Bytes of a record as read, near enough for progress and an ETA. */
function approximateBytes(value: unknown): number {
  if (typeof value === "string") return value.length;
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    // Nested deeper than JSON.stringify's recursion goes (in fields no mapping reads, or refused as invalid).
    return recordText(value).length;
  }
}

export function encodeSignature(signature: Uint32Array): string {
  const bytes = new Uint8Array(signature.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < signature.length; i++) view.setUint32(i * 4, signature[i] as number, true);
  return Buffer.from(bytes).toString("base64");
}

export function decodeSignature(text: string): Uint32Array {
  return signatureFromBytes(Buffer.from(text, "base64"));
}

/** A signature from its little-endian bytes, as `encodeSignature` writes them and the band index stores them. */
export function signatureFromBytes(bytes: Uint8Array): Uint32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}
