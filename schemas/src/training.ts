/**
 * @module A training run as a user asks for it: the stage of the recipe (SFT, on-policy distillation, GRPO,
 * InK-GRPO), the model and teacher, the dataset versions it consumes by hash for each role, hyperparameters and
 * the seed. Which roles and models a stage needs is checked here, so a bad spec fails the request that makes it.
 */
import { z } from "zod";
import { Sha256Hex } from "./manifest";
import { EndpointName } from "./pipeline";

export const TRAINING_STAGES = ["sft", "opd", "grpo", "ink-grpo"] as const;
export const TrainingStage = z.enum(TRAINING_STAGES);
export type TrainingStage = z.infer<typeof TrainingStage>;

/**
 * An HF-format checkpoint folder (`config.json` + `*.safetensors`) of any causal LM transformers loads, or a named
 * tiny config with the real Qwen3 vocabulary: `tiny` (Qwen3, tied head), `tiny-2` (Qwen3, untied), `tiny-moe`
 * (Qwen3-MoE), `tiny-llama` (Llama).
 */
export const ModelRef = z.union([
  z.strictObject({ path: z.string().min(1) }),
  z.strictObject({ tiny: z.string().min(1), seed: z.number().int().nonnegative().default(0) }),
]);
export type ModelRef = z.infer<typeof ModelRef>;

/**
 * An OPD teacher served by an OpenAI-compatible endpoint the operator configured (the trainer's
 * `TRAINER_TEACHER_ENDPOINTS`), which answers the top-K log-probs of given tokens (vLLM's `prompt_logprobs`): named
 * here, never given by URL, so its key only goes where the operator put it. `model` is the name the server serves
 * the teacher as; absent, the endpoint's configured model.
 */
export const TeacherEndpointRef = z.strictObject({
  endpoint: EndpointName,
  model: z.string().min(1).optional(),
});
export type TeacherEndpointRef = z.infer<typeof TeacherEndpointRef>;

/** OPD's teacher: a model the engine loads (`{path}`, `{tiny}`), or one served at a named endpoint. */
export const TeacherRef = z.union([...ModelRef.options, TeacherEndpointRef], {
  error: (issue) => {
    const input = issue.input;
    if (typeof input !== "object" || input === null) return undefined;
    if (["baseUrl", "url"].some((key) => key in input))
      return 'a spec names a teacher endpoint the operator configured (TRAINER_TEACHER_ENDPOINTS), which holds its URL and key, and never a URL: write "teacher": { "endpoint": "<name>" }';
    return 'a teacher is { "path" }, { "tiny", "seed" } or { "endpoint", "model"? }';
  },
});
export type TeacherRef = z.infer<typeof TeacherRef>;

/**
 * Dataset versions by role: `train` (chat SFT set; OPD's examples, prompts with their dataset responses),
 * `prompts` (RL prompts: GRPO's, or OPD's when every example is sampled), `corpus` (InK-GRPO's in-domain text).
 */
export const DatasetRoles = z.strictObject({
  train: Sha256Hex.optional(),
  prompts: Sha256Hex.optional(),
  corpus: Sha256Hex.optional(),
});
export type DatasetRoles = z.infer<typeof DatasetRoles>;
export type DatasetRole = keyof DatasetRoles;

/** Which roles each stage reads; OPD reads one of train and prompts. */
export const STAGE_ROLES: Record<TrainingStage, { required: DatasetRole[]; optional: DatasetRole[] }> = {
  sft: { required: ["train"], optional: [] },
  opd: { required: [], optional: ["train", "prompts"] },
  grpo: { required: ["prompts"], optional: [] },
  "ink-grpo": { required: ["prompts", "corpus"], optional: [] },
};

/**
 * Sampling settings that depend on the stage when a spec leaves them out: OPD's are the Typhoon-S release's OPD
 * config (top-p 0.95, 2048 new tokens); GRPO's sample the untruncated distribution its ratios assume.
 */
export const SAMPLING_DEFAULTS = {
  opd: { topP: 0.95, maxTokens: 2048 },
  rl: { topP: 1, maxTokens: 512 },
} as const;

const positive = z.number().positive();
const fraction = z.number().min(0).max(1);

/**
 * Hyperparameters. `totalSteps`, `seqLen`, `rowsPerStep` and `thinking` shape the run and its batches; the rest go to the
 * engine as its `hyper` (docs/engine-protocol.md), by these names.
 */
export const TrainingHyper = z.strictObject({
  /** Optimizer steps of the run, numbered from 1. */
  totalSteps: z.number().int().positive(),
  /** Tokens per packed row, and packed rows (or prompts, for RL) per optimizer step across all ranks. */
  seqLen: z
    .number()
    .int()
    .min(16)
    .max(1 << 20)
    .default(4096),
  rowsPerStep: z.number().int().positive().default(8),
  /**
   * Generation prompts (OPD sampling, GRPO) in Qwen3's thinking mode. Off by default: prompts end with the
   * empty think block the chat template writes before an answer without reasoning, as SFT sets without
   * reasoning are rendered, so the policy samples answers in the context it was trained on.
   */
  thinking: z.boolean().default(false),
  lr: positive.default(1e-5),
  warmupSteps: z.number().int().nonnegative().default(0),
  /** `cosine`: decay to `minLrRatio · lr` at the last step; `constant` after warmup. */
  schedule: z.enum(["cosine", "constant"]).default("cosine"),
  minLrRatio: fraction.default(0.1),
  weightDecay: z.number().nonnegative().default(0),
  adamBeta1: fraction.default(0.9),
  adamBeta2: fraction.default(0.95),
  adamEps: positive.default(1e-8),
  /** 0: no clipping (the norm is still reported). */
  clipGradNorm: z.number().nonnegative().default(1),
  /** Micro-batches each step's rows (or rollouts) are split into on a rank. */
  gradAccum: z.number().int().positive().default(1),
  /** Each decoder layer's activations recomputed in backward instead of kept. */
  gradientCheckpointing: z.boolean().default(false),
  /** The trained model's shards, gradients and AdamW state in host memory (CUDA; no effect on a CPU run). */
  cpuOffload: z.boolean().default(false),
  /** transformers' attention implementation; `auto`: flash_attention_2 on CUDA where installed, else sdpa. */
  attention: z.enum(["auto", "sdpa", "eager", "flex_attention", "flash_attention_2"]).default("auto"),
  /** Steps between checkpoints; one is always written at the end. 0: only at the end. */
  checkpointEvery: z.number().int().nonnegative().default(500),
  /**
   * Sampling, for OPD's on-policy batches and GRPO's rollouts; stop ids default to the run's chat stop ids, else
   * the eos ids of the checkpoint's generation_config.json and config.json.
   */
  temperature: z
    .number()
    .min(0)
    .max(2)
    .default(1)
    .describe("Sampling temperature. 1: the Typhoon-S release's OPD config (--temperature 1.0)."),
  topP: z
    .number()
    .gt(0)
    .max(1)
    .optional()
    .describe(
      `Nucleus sampling. Absent: ${SAMPLING_DEFAULTS.opd.topP} for OPD (the Typhoon-S release's OPD config, --top_p 0.95), ${SAMPLING_DEFAULTS.rl.topP} for GRPO and InK-GRPO (their old log-probs are the untruncated distribution's).`,
    ),
  maxTokens: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      `New tokens per completion. Absent: ${SAMPLING_DEFAULTS.opd.maxTokens} for OPD (the Typhoon-S release's OPD config, --max_completion_length 2048), ${SAMPLING_DEFAULTS.rl.maxTokens} for GRPO and InK-GRPO (this project's).`,
    ),
  stopIds: z.array(z.number().int().nonnegative()).optional(),
  /**
   * Rollouts are decoded in micro-batches of at most this many cache positions (rows × (prompt + maxTokens)), so
   * the KV cache fits a memory budget (a model's bytes per position: docs/memory.md); 0: all of a step's rows at
   * once.
   */
  rolloutBatchTokens: z.number().int().nonnegative().default(0),
  /** Decode steps through torch.compile on a static cache (CUDA graphs on CUDA); each new batch shape compiles. */
  rolloutCompile: z.boolean().default(false),
  lambda: fraction
    .default(0.25)
    .describe(
      "OPD: probability that an example of a step is on-policy (its prompt and the student's own completion) rather than the dataset's (the same prompt and its dataset response), drawn per example. 0.25: the Typhoon-S release's OPD config (--lmbda 0.25).",
    ),
  divergence: z
    .enum(["forward_kl", "reverse_kl", "jsd"])
    .default("forward_kl")
    .describe(
      "OPD's loss per distilled token: forward_kl KL(teacher || student), reverse_kl KL(student || teacher), or jsd, the generalized Jensen-Shannon divergence of weight beta. forward_kl: the Typhoon-S release's OPD config (--beta 0.0, which TRL's GKD reads as forward KL).",
    ),
  beta: fraction
    .default(0)
    .describe(
      "OPD, with divergence jsd: the teacher's weight in the mixture, in TRL GKD's convention (0 is forward KL, 1 reverse KL, 0.5 the symmetric JSD). 0: the Typhoon-S release's OPD config (--beta 0.0).",
    ),
  /** OPD: distil against the teacher's top-K tokens (renormalized, with a tail bucket); 0: the full vocabulary. */
  topK: z.number().int().nonnegative().default(0),
  /** The frozen models' shards (OPD's teacher, GRPO's reference) in host memory, one layer on the GPU at a time. */
  teacherOffload: z.boolean().default(false),
  /** GRPO: samples per prompt, the ratio's clip range, k3 KL to the reference model, passes over a step's rollouts. */
  groupSize: z.number().int().min(2).default(8),
  epsLow: positive.default(0.2),
  epsHigh: positive.default(0.28),
  klCoef: z.number().nonnegative().default(0),
  ppoEpochs: z.number().int().positive().default(1),
  /**
   * GRPO: rollouts per optimizer update over all ranks; a step's `rowsPerStep × groupSize` rollouts are dealt into
   * mini-batches of this size, one update each, afresh in each of the `ppoEpochs` passes. 0: one update of all of
   * them per pass. It must divide the step's rollouts, and evenly over the engine's ranks.
   */
  miniBatchSize: z.number().int().nonnegative().default(0),
  /** GRPO: c > 1 caps a negative advantage's per-token loss at −c·A (dual-clip PPO, verl's clip_ratio_c); 0: off. */
  dualClip: z
    .number()
    .refine((c) => c === 0 || c > 1, "dualClip is 0 (off) or above 1")
    .default(0),
  /**
   * GRPO: what a group's r − mean is divided by: its `population` std, its `sample` std (Bessel's n − 1: verl's
   * default, TRL's scale_rewards "group"), or `none` (Dr. GRPO: verl's norm_adv_by_std_in_grpo false, TRL's "none").
   */
  advantageStd: z.enum(["population", "sample", "none"]).default("population"),
  /** InK-GRPO: L = L_GRPO + ceCoef · b · L_CE, b ~ Bernoulli(ceProb) per update. */
  ceCoef: z.number().nonnegative().default(0.1),
  ceProb: fraction.default(0.6),
  ceBatchSize: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      "InK-GRPO: packed corpus rows (seqLen tokens each, long documents split into pieces) in an update's next-token term, across all ranks, whatever the prompts per step. The Typhoon-S release's sft_batch_size (64 corpus documents, one a row, per 32 prompts in its InK-GRPO script) counts unpacked documents, so it is not taken over. Absent: rowsPerStep, as the release's trainer falls back to its prompt batch size.",
    ),
});
/** The tools a GRPO policy may call in its rollouts (the trainer service runs them). */
export const TOOL_NAMES = ["statute_search", "section_lookup"] as const;
export const ToolName = z.enum(TOOL_NAMES);
export type ToolName = z.infer<typeof ToolName>;

/**
 * Multi-turn rollouts with tools (GRPO and InK-GRPO): the policy may call the named tools in Qwen3's
 * `<tool_call>` format, the service runs them over the statute corpus `corpus` (a committed text version, pinned
 * by hash like the datasets; its samples are statute sections, `meta.law_name` and `meta.section_label` when the
 * corpus has them) and appends each result as a tool turn, for up to `maxTurns` assistant turns. Each tool
 * result is cut to `maxToolTokens` tokens when set. The reward scores the last assistant turn.
 */
export const ToolsSpec = z.strictObject({
  names: z
    .array(ToolName)
    .min(1)
    .refine((names) => new Set(names).size === names.length, "names a tool twice"),
  corpus: Sha256Hex,
  maxTurns: z.number().int().min(1).max(32).default(4),
  maxToolTokens: z.number().int().positive().optional(),
});
export type ToolsSpec = z.infer<typeof ToolsSpec>;

/** The keys that shape the run rather than the engine's optimizer and algorithm. */
export const RUN_SHAPE_KEYS = ["totalSteps", "seqLen", "rowsPerStep", "ceBatchSize", "thinking"] as const;
export type TrainingHyper = z.infer<typeof TrainingHyper>;

/**
 * Hyperparameters the engine gets (`hyper` of its /config): the spec's, less the keys that shape the run, with
 * the sampling settings a spec leaves out filled in for its stage (SAMPLING_DEFAULTS).
 */
export function engineHyper(stage: TrainingStage, hyper: TrainingHyper): Record<string, unknown> {
  const defaults = stage === "opd" ? SAMPLING_DEFAULTS.opd : SAMPLING_DEFAULTS.rl;
  const shape: readonly string[] = RUN_SHAPE_KEYS;
  return {
    ...defaults,
    ...Object.fromEntries(
      Object.entries(hyper).filter(([key, value]) => !shape.includes(key) && value !== undefined),
    ),
  };
}

export const TrainingRunSpec = z
  .strictObject({
    name: z.string().min(1).max(200).optional(),
    stage: TrainingStage,
    model: ModelRef,
    teacher: TeacherRef.optional(),
    reference: ModelRef.optional(),
    datasets: DatasetRoles,
    hyper: TrainingHyper,
    tools: ToolsSpec.optional(),
    seed: z.number().int().nonnegative().default(0),
  })
  .superRefine((spec, ctx) => {
    const roles = STAGE_ROLES[spec.stage];
    for (const role of roles.required)
      if (!spec.datasets[role])
        ctx.addIssue({
          code: "custom",
          path: ["datasets", role],
          message: `stage ${spec.stage} needs a ${role} dataset version`,
        });
    for (const role of Object.keys(spec.datasets) as DatasetRole[])
      if (spec.datasets[role] && !roles.required.includes(role) && !roles.optional.includes(role))
        ctx.addIssue({
          code: "custom",
          path: ["datasets", role],
          message: `stage ${spec.stage} does not read a ${role} dataset`,
        });
    if (spec.stage === "opd") {
      if (!spec.teacher)
        ctx.addIssue({
          code: "custom",
          path: ["teacher"],
          message: "on-policy distillation needs a teacher model",
        });
      if (spec.teacher && "endpoint" in spec.teacher) {
        if (spec.hyper.topK === 0)
          ctx.addIssue({
            code: "custom",
            path: ["hyper", "topK"],
            message:
              "a teacher endpoint (teacher.endpoint) serves its top-K log-probs only: set topK above 0 (vLLM serves up to its --max-logprobs, 20 by default)",
          });
        if (spec.hyper.teacherOffload)
          ctx.addIssue({
            code: "custom",
            path: ["hyper", "teacherOffload"],
            message: "a teacher endpoint (teacher.endpoint) has no weights here to offload",
          });
      }
      // Each example is one sample's prompt, completed by the student (probability lambda) or by its dataset
      // response: the examples come from one set, a chat train set (prompts and responses) or RL prompts.
      if (!spec.datasets.train && !spec.datasets.prompts)
        ctx.addIssue({
          code: "custom",
          path: ["datasets"],
          message:
            "on-policy distillation needs its examples: a train dataset (chat: prompts with dataset responses) or prompts",
        });
      if (spec.datasets.train && spec.datasets.prompts)
        ctx.addIssue({
          code: "custom",
          path: ["datasets", "prompts"],
          message:
            "on-policy distillation reads its examples from one dataset: train (chat, whose last answers are the dataset responses) or prompts (on-policy only), not both",
        });
      if (spec.hyper.lambda < 1 && !spec.datasets.train)
        ctx.addIssue({
          code: "custom",
          path: ["hyper", "lambda"],
          message: `lambda ${spec.hyper.lambda} trains a share of the examples on dataset responses, which only a train dataset (chat) has; with prompts alone set lambda to 1`,
        });
    } else if (spec.teacher)
      ctx.addIssue({ code: "custom", path: ["teacher"], message: `stage ${spec.stage} has no teacher` });
    const rollouts = spec.hyper.rowsPerStep * spec.hyper.groupSize;
    const { miniBatchSize } = spec.hyper;
    if (
      (spec.stage === "grpo" || spec.stage === "ink-grpo") &&
      miniBatchSize > 0 &&
      rollouts % miniBatchSize !== 0
    )
      ctx.addIssue({
        code: "custom",
        path: ["hyper", "miniBatchSize"],
        message: `a step's ${rollouts} rollouts (rowsPerStep ${spec.hyper.rowsPerStep} × groupSize ${spec.hyper.groupSize}) do not split into mini-batches of ${miniBatchSize}`,
      });
    if (spec.tools && spec.stage !== "grpo" && spec.stage !== "ink-grpo")
      ctx.addIssue({
        code: "custom",
        path: ["tools"],
        message: `stage ${spec.stage} samples no multi-turn rollouts; only GRPO stages call tools`,
      });
    if (spec.reference && spec.stage !== "grpo" && spec.stage !== "ink-grpo")
      ctx.addIssue({
        code: "custom",
        path: ["reference"],
        message: "only GRPO stages use a reference model",
      });
  });
export type TrainingRunSpec = z.infer<typeof TrainingRunSpec>;
export type TrainingRunSpecInput = z.input<typeof TrainingRunSpec>;
