/**
 * @module Pipeline specs: sources → ordered steps with parameters → one output dataset version. A spec is data
 * (a TypeScript module or a YAML/JSON file validated here); its canonical hash goes into the version's
 * manifest, so a version always says exactly how it was made.
 */
import { z } from "zod";
import { DatasetKind, SplitName } from "./samples";
import { SourceSpec } from "./sources";

/**
 * Which text a step looks at. Chat samples: the turns of a role (`system`, `user`, `assistant`, `tool`);
 * text samples: `text`; RL prompts: `prompt` (every prompt turn) and `ground_truth`. `all` is every text field
 * of the sample's kind.
 */
export const TextField = z.enum([
  "all",
  "system",
  "user",
  "assistant",
  "tool",
  "text",
  "prompt",
  "ground_truth",
]);
export type TextField = z.infer<typeof TextField>;

const fields = z.array(TextField).min(1);
const Bounds = z.strictObject({
  min: z.number().int().nonnegative().optional(),
  max: z.number().int().positive().optional(),
});
export type Bounds = z.infer<typeof Bounds>;
const Share = z.number().min(0).max(1);

/** Steps that look at one record at a time; they run in worker threads, batch by batch. */
export const NormalizeStep = z.strictObject({
  type: z.literal("normalize"),
  fields: fields.default(["all"]),
  /**
   * PyThaiNLP-style Thai normalization (repeated marks, vowel order, dangling marks) on top of NFC,
   * zero-width removal and whitespace unification; `false` keeps only the script-neutral part.
   */
  thai: z.boolean().default(true),
});

export const ScriptStep = z.strictObject({
  type: z.literal("script"),
  fields: fields.default(["all"]),
  /** Bounds on the share of Thai letters among all letters of each selected field (fields with no letter pass). */
  minThaiShare: Share.optional(),
  maxThaiShare: Share.optional(),
  /**
   * Code-switching: any CJK letter in an assistant turn (or a text / ground truth) `drop`s the sample,
   * `flag`s it (kept, with `meta.flags`), or is ignored (`off`).
   */
  codeSwitching: z.enum(["drop", "flag", "off"]).default("drop"),
});

export const QualityStep = z.strictObject({
  type: z.literal("quality"),
  fields: fields.default(["all"]),
  /** Overrides of the Thai defaults (FineWeb-2's Thai settings); see `@sovereign/thai` `THAI_QUALITY_DEFAULTS`. */
  thresholds: z.record(z.string(), z.unknown()).default({}),
  /** Texts with fewer characters than this are not judged (a short answer is not low quality). */
  minChars: z.number().int().nonnegative().default(0),
});

export const RepetitionStep = z.strictObject({
  type: z.literal("repetition"),
  fields: fields.default(["all"]),
  /** Overrides of `@sovereign/thai` `REPETITION_DEFAULTS`. */
  thresholds: z.record(z.string(), z.unknown()).default({}),
});

export const TokensStep = z.strictObject({
  type: z.literal("tokens"),
  /** Bounds on the whole sample's chat-template rendering (or the text, or the prompt). */
  total: Bounds.optional(),
  /** Bounds per field, counted on that field's turns as they appear in the rendering. */
  perField: z.partialRecord(TextField, Bounds).default({}),
});

export const PiiStep = z.strictObject({
  type: z.literal("pii"),
  fields: fields.default(["all"]),
  kinds: z
    .array(z.enum(["thai-national-id", "phone", "email"]))
    .min(1)
    .default(["thai-national-id", "phone", "email"]),
  /** `redact` replaces each match with a placeholder (the original is kept in the audit); `drop` drops the sample. */
  action: z.enum(["redact", "drop"]).default("redact"),
});

/** The name of a teacher endpoint the operator configured: lowercase letters, digits, '-' and '_'. */
export const EndpointName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "an endpoint name is lowercase letters, digits, '-' and '_'");

/** The endpoint `TEACHER_BASE_URL` configures, and the one a teacher step that names none asks. */
export const DEFAULT_TEACHER_ENDPOINT = "teacher";

/**
 * A spec names endpoints and never carries the URL a request goes to: that URL would receive the key the
 * operator configured. A spec that still has `baseUrl` is refused with what to write instead.
 */
function refusingBaseUrl(field: "teacher" | "judge" | "propose") {
  return {
    error: (issue: { code?: string; keys?: string[] }) => {
      if (issue.code !== "unrecognized_keys" || !issue.keys?.includes("baseUrl")) return undefined;
      const others = issue.keys.filter((key) => key !== "baseUrl");
      return (
        `baseUrl is not accepted: a spec names an endpoint the operator configured (CURATOR_TEACHER_ENDPOINTS, ` +
        `or TEACHER_BASE_URL for "${DEFAULT_TEACHER_ENDPOINT}"), which holds its URL and key; write ` +
        `"${field}": { "endpoint": "<name>" } instead` +
        (others.length ? `; also unrecognized: ${others.join(", ")}` : "")
      );
    },
  };
}

/** Where one role of a teacher step (the teacher, its judge, its proposer) is answered. */
const EndpointChoice = {
  /** The model; when absent, the endpoint's configured model (a judge or proposer on the teacher's endpoint: the teacher's). */
  model: z.string().min(1).optional(),
  /**
   * The endpoint's URL when the run was queued, recorded by the curator so the manifest says where the data
   * came from. Nothing is sent to it: a worker that has the endpoint at another URL fails the run. A spec
   * leaves it out, or gives the URL the endpoint has.
   */
  endpointUrl: z.url().optional(),
};

/**
 * Where a teacher step's model answers: an OpenAI-compatible `/chat/completions` server the operator configured
 * under a name, with its URL and key (`CURATOR_TEACHER_ENDPOINTS`; `TEACHER_BASE_URL`, `TEACHER_MODEL` and
 * `TEACHER_API_KEY` make the endpoint `teacher`). The model and the URL are filled in when a run is queued, so
 * the manifest records the endpoint that made the data.
 */
export const TeacherEndpoint = z.strictObject(
  {
    endpoint: EndpointName.default(DEFAULT_TEACHER_ENDPOINT),
    ...EndpointChoice,
    /** Requests in flight at once, per unit of work. */
    concurrency: z.number().int().positive().default(8),
    timeoutMs: z.number().int().positive().optional(),
    retries: z.number().int().nonnegative().optional(),
    /** Most tokens the run may spend on new requests (cached answers are free); past it the run fails. */
    budgetTokens: z.number().int().positive().optional(),
  },
  refusingBaseUrl("teacher"),
);
export type TeacherEndpoint = z.infer<typeof TeacherEndpoint>;

/**
 * Constrained AutoIF with a teacher model (chat pipelines, first step only): each sample's first user turn is a
 * seed query; the step composes a prompt with verifiable constraints (`@sovereign/constraints`), samples `n`
 * teacher answers and keeps the first that passes every constraint, so the sample becomes that prompt and answer.
 */
export const GenerateConstrainedStep = z.strictObject({
  type: z.literal("generate-constrained"),
  /** `@sovereign/constraints` `ComposeOptions` without parameter generators; `seed` is combined with each sample's id. */
  compose: z.strictObject({
    seed: z.union([z.number().int(), z.string().min(1)]),
    constraints: z
      .strictObject({ min: z.number().int().nonnegative(), max: z.number().int().nonnegative() })
      .refine((c) => c.min <= c.max, "min must not exceed max")
      .optional(),
    weights: z.record(z.string(), z.number().nonnegative()).optional(),
    instructionLanguage: z
      .strictObject({ th: z.number().nonnegative(), en: z.number().nonnegative() })
      .optional(),
    placement: z
      .strictObject({ user: z.number().nonnegative(), system: z.number().nonnegative() })
      .optional(),
    forceThaiAnswer: z.boolean().optional(),
  }),
  teacher: TeacherEndpoint.extend({
    /** Candidate answers sampled per prompt, in one request. */
    n: z.number().int().positive().max(64).default(4),
    temperature: z.number().min(0).max(2).default(0.7),
    top_p: z.number().gt(0).max(1).optional(),
    max_tokens: z.number().int().positive().default(2048),
  }),
  /**
   * Constraint proposal: for this share of seeds a model (the teacher's unless named) is asked for up to `max`
   * constraints suited to the query. Only registered types with valid parameters are used; every other proposal
   * is kept in `meta.autoif.proposal.discarded` with its reason. A seed whose proposals are all unusable gets
   * sampled constraints, as when proposal is off.
   */
  propose: z
    .strictObject(
      {
        share: z.number().min(0).max(1).default(1),
        max: z.number().int().positive().max(5).default(3),
        /** The configured endpoint to ask; the teacher's when absent. */
        endpoint: EndpointName.optional(),
        ...EndpointChoice,
        temperature: z.number().min(0).max(2).default(0.7),
        max_tokens: z.number().int().positive().default(512),
      },
      refusingBaseUrl("propose"),
    )
    .optional(),
  /** Drop candidates to a Thai response that contain CJK letters (a teacher slipping into Chinese). */
  dropCodeSwitching: z.boolean().default(true),
  /**
   * An LLM judge over the candidates that passed: it scores each from 0 to 10 in Thai, in order, and the first
   * scoring at least `threshold` is kept. `endpoint` and `model` default to the teacher's; its tokens count toward
   * `teacher.budgetTokens`.
   */
  judge: z
    .strictObject(
      {
        endpoint: EndpointName.optional(),
        ...EndpointChoice,
        threshold: z.number().min(0).max(10).default(8),
        max_tokens: z.number().int().positive().default(16),
      },
      refusingBaseUrl("judge"),
    )
    .optional(),
});
export type GenerateConstrainedStep = z.infer<typeof GenerateConstrainedStep>;

/**
 * Thai rendering of user turns through the teacher (chat pipelines, first step only), for sets such as tool use
 * whose requests are in English: each user turn is translated, and the translation must keep verbatim every
 * function name and every argument value of the conversation's tool calls that the original turn spells out.
 * A sample whose rendering loses one, is cut off or is not Thai is dropped with that reason, or passed through
 * untranslated with `onFailure: "keep-original"`; a rendered sample's original goes to the audit as `modified`.
 */
export const RenderThaiStep = z.strictObject({
  type: z.literal("render-thai"),
  teacher: TeacherEndpoint.extend({
    temperature: z.number().min(0).max(2).default(0),
    max_tokens: z.number().int().positive().default(1024),
  }),
  /** Least share of letters in Thai script in a rendering, not counting the verbatim values. */
  minThaiRatio: z.number().min(0).max(1).default(0.5),
  onFailure: z.enum(["drop", "keep-original"]).default("drop"),
});
export type RenderThaiStep = z.infer<typeof RenderThaiStep>;

/** Steps that ask a teacher model, over a whole unit at once; at most one per pipeline, as its first step. */
export type TeacherStep = GenerateConstrainedStep | RenderThaiStep;
export function isTeacherStep(step: { type: string }): step is TeacherStep {
  return step.type === "generate-constrained" || step.type === "render-thai";
}

/** Steps that need every record: they run after all the record steps, over the records those kept. */
export const ExactDedupStep = z.strictObject({
  type: z.literal("dedup-exact"),
  /**
   * What two samples must share to be duplicates: `content` (every content field: the whole conversation,
   * the text, the prompt and its ground truth), `prompt` (system and user turns / the prompt only), or `key`
   * (the values at `key` paths, e.g. `meta.law_name` and `meta.section_label`).
   */
  scope: z.enum(["content", "prompt", "key"]).default("content"),
  key: z.array(z.string().min(1)).optional(),
  /** Also drop samples whose key a committed or published version of these datasets already holds. */
  against: z.array(z.string()).default([]),
});

export const NearDedupStep = z.strictObject({
  type: z.literal("dedup-near"),
  fields: fields.default(["all"]),
  bands: z.number().int().positive().max(64).default(14),
  rows: z.number().int().positive().max(32).default(8),
  /** Verified Jaccard similarity at or above which two candidates are duplicates. */
  threshold: z.number().gt(0).max(1).default(0.8),
  shingle: z
    .discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("char"), n: z.number().int().min(2).max(16).default(5) }),
      z.strictObject({ kind: z.literal("word"), n: z.number().int().min(1).max(8).default(3) }),
    ])
    .default({ kind: "char", n: 5 }),
  /** Texts whose dedup view is shorter than this are only deduplicated exactly (no MinHash signature). */
  minLength: z.number().int().nonnegative().default(50),
  seed: z.number().int().nonnegative().default(1),
  /** Samples that differ at any of these paths never merge (e.g. two different sections of a statute). */
  distinctBy: z.array(z.string().min(1)).default([]),
  /** Also drop samples near-duplicating a committed or published version of these datasets (band index). */
  against: z.array(z.string()).default([]),
});

export const RecordStep = z.discriminatedUnion("type", [
  GenerateConstrainedStep,
  RenderThaiStep,
  NormalizeStep,
  ScriptStep,
  QualityStep,
  RepetitionStep,
  TokensStep,
  PiiStep,
]);
export type RecordStep = z.infer<typeof RecordStep>;
export const DedupStep = z.discriminatedUnion("type", [ExactDedupStep, NearDedupStep]);
export type DedupStep = z.infer<typeof DedupStep>;
export const PipelineStep = z.discriminatedUnion("type", [
  GenerateConstrainedStep,
  RenderThaiStep,
  NormalizeStep,
  ScriptStep,
  QualityStep,
  RepetitionStep,
  TokensStep,
  PiiStep,
  ExactDedupStep,
  NearDedupStep,
]);
export type PipelineStep = z.infer<typeof PipelineStep>;
export type PipelineStepInput = z.input<typeof PipelineStep>;

/** How kept samples are assigned to splits. */
export const SplitRule = z.discriminatedUnion("by", [
  /** Each source's `split` (default `train`). */
  z.strictObject({ by: z.literal("source") }),
  /** A stable hash of the sample's content decides, with these shares (they must sum to 1). */
  z.strictObject({
    by: z.literal("hash"),
    shares: z.record(SplitName, z.number().positive()),
    seed: z.number().int().nonnegative().default(0),
  }),
]);
export type SplitRule = z.infer<typeof SplitRule>;

export const PipelineSpec = z
  .strictObject({
    /** The pipeline's name: lowercase words joined by '-'. */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "use lowercase letters, digits and '-'"),
    description: z.string().default(""),
    /** The dataset the version is built into; created with this kind when it does not exist. */
    dataset: z.strictObject({
      name: z.string().min(1),
      kind: DatasetKind,
      description: z.string().default(""),
    }),
    sources: z.array(SourceSpec).min(1),
    steps: z.array(PipelineStep).default([]),
    splits: SplitRule.default({ by: "source" }),
    /** Records per unit of work: what a worker thread processes at once and what a resumed job redoes at most. */
    batchSize: z.number().int().positive().max(100_000).default(2_000),
    /**
     * Malformed or invalid input records (kept as rejected with their file and line) tolerated before the job
     * fails; `maxShare` is a share of the records read so far, checked once 1,000 records are read.
     */
    errorBudget: z
      .strictObject({ maxRecords: z.number().int().nonnegative().optional(), maxShare: Share.optional() })
      .default({ maxShare: 0.01 }),
    /** Versions this one derives from besides its inputs (their manifest hashes). */
    parents: z.array(z.string()).default([]),
    /**
     * Datasets this one derives from (e.g. the statute corpus the RL prompts cite): when a run is queued, each
     * dataset's latest committed or published version is added to `parents`, so the run's spec names it.
     */
    parentsFrom: z.array(z.string()).default([]),
  })
  .superRefine((spec, ctx) => {
    let dedupAt = -1;
    spec.steps.forEach((step, i) => {
      const isDedup = step.type === "dedup-exact" || step.type === "dedup-near";
      if (isDedup && dedupAt < 0) dedupAt = i;
      if (!isDedup && dedupAt >= 0) {
        ctx.addIssue({
          code: "custom",
          path: ["steps", i],
          message: `step ${i} (${step.type}) comes after a deduplication step (${dedupAt}): record steps must come first, since deduplication needs every record`,
        });
      }
      if (isTeacherStep(step) && i !== 0)
        ctx.addIssue({
          code: "custom",
          path: ["steps", i],
          message: `step ${i} (${step.type}) must be the first step: it makes the samples the other steps judge`,
        });
      if (isTeacherStep(step) && spec.dataset.kind !== "chat")
        ctx.addIssue({
          code: "custom",
          path: ["steps", i],
          message: `${step.type} makes chat samples, but the dataset kind is ${spec.dataset.kind}`,
        });
      if (step.type === "dedup-exact" && step.scope === "key" && !step.key?.length) {
        ctx.addIssue({
          code: "custom",
          path: ["steps", i, "key"],
          message: "scope 'key' needs the key paths",
        });
      }
    });
    const names = new Set<string>();
    spec.sources.forEach((source, i) => {
      if (names.has(source.name))
        ctx.addIssue({
          code: "custom",
          path: ["sources", i, "name"],
          message: `source name ${source.name} is used twice`,
        });
      names.add(source.name);
    });
    if (spec.splits.by === "hash") {
      const sum = Object.values(spec.splits.shares).reduce((a, b) => a + b, 0);
      if (Math.abs(sum - 1) > 1e-9)
        ctx.addIssue({
          code: "custom",
          path: ["splits", "shares"],
          message: `split shares sum to ${sum}, not 1`,
        });
    }
  });
export type PipelineSpec = z.infer<typeof PipelineSpec>;
export type PipelineSpecInput = z.input<typeof PipelineSpec>;

/** Per-step accounting of a run: records in and out, and why the others were dropped or changed. */
export const StepStats = z.strictObject({
  step: z.string(),
  type: z.string(),
  in: z.number().int().nonnegative(),
  out: z.number().int().nonnegative(),
  dropped: z.record(z.string(), z.number().int().nonnegative()),
  modified: z.number().int().nonnegative(),
  flagged: z.number().int().nonnegative(),
});
export type StepStats = z.infer<typeof StepStats>;

/** Where a pipeline run is: what it has read, kept and rejected, how fast, and the phase after reading. */
export type PipelineProgress = {
  phase: "reading" | "dedup" | "writing";
  /** Records read from the sources, and their bytes out of the sources' total (for the ETA). */
  recordsRead: number;
  bytesRead: number;
  bytesTotal: number;
  unitsDone: number;
  /** Records kept after every record step, and rejected so far. */
  kept: number;
  rejected: number;
  /** Records per second over this attempt, and seconds left at that rate (when it can be estimated). */
  rate: number;
  etaSeconds: number | null;
  steps: StepStats[];
  /** Work of the current phase after reading: done out of total. */
  phaseDone?: number;
  phaseTotal?: number;
};
