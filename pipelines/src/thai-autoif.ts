/**
 * @module The constrained instruction-following set (AutoIF with typed constraints): the train split of the
 * Thai instruction set supplies seed queries; each becomes a prompt with one to three verifiable constraints
 * (a quarter of them proposed by the teacher, as registered types only), answered by the teacher and kept only
 * when every constraint passes. The teacher is the endpoint the operator configured as `teacher`
 * (`TEACHER_BASE_URL`, `TEACHER_MODEL`), recorded in the run's spec when it is queued. More seed sets (English
 * ones are answered in Thai) are added as further `dataset` sources.
 */
import type { PipelineSpecInput } from "@sovereign/schemas";

export const thaiAutoif: PipelineSpecInput = {
  name: "thai-autoif",
  description:
    "Constrained instruction following: seed queries from thai-instructions with verifiable constraints, answered by the teacher and kept only when every constraint passes.",
  dataset: {
    name: "thai-autoif",
    kind: "chat",
    description:
      "Thai prompts with verifiable format and content constraints (in the user turn or a system prompt) and teacher answers that meet them all.",
  },
  sources: [{ type: "dataset", name: "thai-instructions", dataset: "thai-instructions", splits: ["train"] }],
  steps: [
    {
      type: "generate-constrained",
      compose: {
        seed: "thai-autoif-v1",
        constraints: { min: 1, max: 3 },
        instructionLanguage: { th: 3, en: 1 },
        placement: { user: 1, system: 1 },
        forceThaiAnswer: true,
      },
      teacher: { endpoint: "teacher", n: 4, temperature: 0.7, max_tokens: 2048, concurrency: 8 },
      propose: { share: 0.25, max: 3 },
    },
    { type: "tokens", total: { max: 8192 } },
    { type: "dedup-exact", scope: "content" },
  ],
  splits: { by: "hash", shares: { train: 0.95, test: 0.05 } },
  batchSize: 32,
};

/**
 * The tool-use set with its requests in Thai: the committed `tool-use` version's user turns rendered by the
 * teacher, every function name and argument value the request spells out kept verbatim.
 */
export const toolUseThai: PipelineSpecInput = {
  name: "tool-use-th",
  description:
    "The tool-use set with user turns rendered in Thai by the teacher, function names and argument values kept verbatim.",
  dataset: {
    name: "tool-use-th",
    kind: "chat",
    description: "Tool-use conversations whose requests are in Thai; tools and tool calls as in tool-use.",
  },
  sources: [{ type: "dataset", name: "tool-use", dataset: "tool-use" }],
  steps: [
    { type: "render-thai", teacher: { endpoint: "teacher", concurrency: 8 } },
    { type: "tokens", total: { max: 16_384 } },
    { type: "dedup-exact", scope: "content" },
  ],
  splits: { by: "hash", shares: { train: 0.95, test: 0.05 } },
  batchSize: 64,
};
