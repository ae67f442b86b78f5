/**
 * @module Request and response bodies of the curator API. Routes, validation, types and the OpenAPI
 * document all derive from these.
 */
import { z } from "zod";
import { Manifest, Sha256Hex } from "./manifest";
import { DatasetKind, SplitName } from "./samples";

export const DatasetName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{0,63}$/,
    "use 1–64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
  );

export const CreateDatasetBody = z.strictObject({
  name: DatasetName,
  kind: DatasetKind,
  description: z.string().max(10_000).optional(),
});

export const DatasetInfo = z.object({
  name: z.string(),
  kind: DatasetKind,
  description: z.string(),
  createdAt: z.string(),
  versions: z.number().int(),
});

export const VersionStatus = z.enum(["draft", "committed", "published"]);

export const VersionInfo = z.object({
  hash: Sha256Hex,
  dataset: z.string(),
  kind: DatasetKind,
  status: VersionStatus,
  parents: z.array(Sha256Hex),
  pipeline: z.object({ name: z.string(), configHash: Sha256Hex }),
  stats: z.object({
    rows: z.number().int(),
    bytes: z.number().int(),
    shards: z.number().int(),
    rejected: z.number().int(),
    splits: z.record(z.string(), z.object({ rows: z.number().int(), tokens: z.number().int().optional() })),
  }),
  createdAt: z.string(),
  committedAt: z.string().nullable(),
});

export const VersionDetail = VersionInfo.extend({ manifest: Manifest });

/** One input of a version: an uploaded file (by upload id) or a file already under the import directory. */
export const VersionInput = z.union([
  z.strictObject({
    upload: z.uuid(),
    split: SplitName.default("train"),
    source: z.string().min(1).max(512).optional(),
  }),
  z.strictObject({
    path: z.string().min(1).max(4096),
    split: SplitName.default("train"),
    source: z.string().min(1).max(512).optional(),
  }),
]);

export const CreateVersionBody = z.strictObject({
  inputs: z.array(VersionInput).min(1).max(1000),
  /** How many bad input records may be rejected (and kept aside with the version) before the build fails. */
  maxRejected: z.number().int().min(0).default(0),
  parents: z.array(Sha256Hex).max(100).default([]),
  description: z.string().max(10_000).optional(),
  shardLimits: z
    .strictObject({
      maxRows: z.number().int().min(1).max(10_000_000).optional(),
      maxBytes: z
        .number()
        .int()
        .min(1024)
        .max(2 ** 31)
        .optional(),
    })
    .optional(),
});

export const UploadInfo = z.object({
  upload: z.uuid(),
  /** The name the upload was given: versions built from it name their records by it. */
  filename: z.string(),
  /** `parquet` for a `.parquet` name, `jsonl` for any other; the bytes were checked to agree. */
  format: z.enum(["jsonl", "parquet"]),
  bytes: z.number().int(),
  sha256: Sha256Hex,
});

export const SampleEntry = z.object({
  sampleId: z.string(),
  contentHash: Sha256Hex,
  split: z.string(),
  source: z.string(),
  position: z.number().int(),
  shard: z.string(),
  row: z.number().int(),
  sample: z.record(z.string(), z.unknown()).optional(),
});

export const SamplePage = z.object({
  items: z.array(SampleEntry),
  nextCursor: z.number().int().nullable(),
});

export const BrowseQuery = z.object({
  split: SplitName.optional(),
  source: z.string().min(1).max(512).optional(),
  cursor: z.coerce.number().int().min(-1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  content: z
    .enum(["true", "false", "1", "0"])
    .default("true")
    .transform((v) => v === "true" || v === "1"),
});

export const VersionDiff = z.object({
  from: Sha256Hex,
  to: Sha256Hex,
  added: z.number().int(),
  removed: z.number().int(),
  unchanged: z.number().int(),
  sizes: z.object({ from: z.number().int(), to: z.number().int() }),
  addedSamples: z.array(z.object({ sampleId: z.string(), contentHash: Sha256Hex, split: z.string() })),
  removedSamples: z.array(z.object({ sampleId: z.string(), contentHash: Sha256Hex, split: z.string() })),
});

export const VerifyReport = z.object({
  version: Sha256Hex,
  ok: z.boolean(),
  manifest: z.object({ ok: z.boolean(), actual: Sha256Hex }),
  /** Every file checked: `manifest.json`, `README.md` (the card), the shards and rejected records. */
  shards: z.array(
    z.object({
      path: z.string(),
      sha256: Sha256Hex,
      bytes: z.number().int().optional(),
      ok: z.boolean(),
      /** `missing`: no blob by that hash in the store; `corrupt`: its bytes hash to something else. */
      status: z.enum(["ok", "corrupt", "missing"]),
      error: z.string().optional(),
    }),
  ),
});

/** A record a version did not take as it was, with the step and reason. */
export const RejectedEntry = z.object({
  position: z.number().int(),
  step: z.string(),
  reason: z.string(),
  action: z.string(),
  location: z.string(),
  source: z.string(),
  message: z.string(),
  detail: z.unknown(),
  record: z.unknown(),
});

export const RejectedPage = z.object({
  items: z.array(RejectedEntry),
  nextCursor: z.number().int().nullable(),
});

export const RejectedQuery = z.object({
  step: z.string().min(1).max(64).optional(),
  reason: z.string().min(1).max(128).optional(),
  action: z.enum(["dropped", "modified"]).optional(),
  cursor: z.coerce.number().int().min(-1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const StepStatsBody = z.object({
  step: z.string(),
  type: z.string(),
  in: z.number().int(),
  out: z.number().int(),
  dropped: z.record(z.string(), z.number().int()),
  modified: z.number().int(),
  flagged: z.number().int(),
});

export const VersionStatsBody = z.object({
  hash: Sha256Hex,
  rows: z.number().int(),
  rejected: z.number().int(),
  splits: z.record(z.string(), z.object({ rows: z.number().int(), tokens: z.number().int().optional() })),
  tokenizer: z.string().nullable(),
  steps: z.array(StepStatsBody),
  reasons: z.array(
    z.object({ step: z.string(), reason: z.string(), action: z.string(), count: z.number().int() }),
  ),
});

export const RunStatus = z.enum(["queued", "running", "cancelling", "cancelled", "failed", "succeeded"]);

export const RunBody = z.object({
  id: z.string().uuid(),
  pipeline: z.string(),
  dataset: z.string(),
  configHash: z.string(),
  status: RunStatus,
  /** `operator`: queued by the command line, its sources unconfined; `api`: over HTTP, confined to the source roots. */
  origin: z.enum(["api", "operator"]),
  commit: z.boolean(),
  progress: z
    .object({
      phase: z.string(),
      recordsRead: z.number(),
      bytesRead: z.number(),
      bytesTotal: z.number(),
      unitsDone: z.number(),
      kept: z.number(),
      rejected: z.number(),
      rate: z.number(),
      etaSeconds: z.number().nullable(),
      steps: z.array(StepStatsBody),
      phaseDone: z.number().optional(),
      phaseTotal: z.number().optional(),
      updatedAt: z.string(),
    })
    .nullable(),
  versionHash: z.string().nullable(),
  error: z.string().nullable(),
  attempts: z.number().int(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});

export const RunList = z.object({ items: z.array(RunBody) });

export const CreateRunBody = z
  .object({
    /** A pipeline known to the service by name (`GET /v1/pipelines`). */
    pipeline: z.string().min(1).max(64).optional(),
    /** Or a whole pipeline spec. */
    spec: z.record(z.string(), z.unknown()).optional(),
    /** Commit the version once built (default true); otherwise it stays a draft. */
    commit: z.boolean().default(true),
  })
  .refine((b) => (b.pipeline === undefined) !== (b.spec === undefined), {
    message: "give either `pipeline` or `spec`",
  });

export const PipelineList = z.object({
  items: z.array(
    z.object({
      name: z.string(),
      dataset: z.string(),
      kind: z.string(),
      description: z.string(),
      configHash: z.string(),
    }),
  ),
});
