/**
 * @module The tokenizer of a run's model: the one its data plane tokenizes with, its rollouts are scored with and
 * its engine is told about (`tokenizerVocab`, `stopIds` in /config); and the model folder's own chat template,
 * which renders its chat samples and prompts.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ModelRef } from "@sovereign/schemas";
import { loadQwen3Tokenizer, loadTokenizer, ModelChatTemplate, type Tokenizer } from "@sovereign/tokenizer";

/**
 * A model folder's own tokenizer.json (with its tokenizer_config.json and generation_config.json) when the
 * run's model is a folder that holds one; else the shipped Qwen3 tokenizer, whose vocabulary the tiny models
 * use. A folder's tokenizer.json that the encoder does not implement is refused, naming the field.
 */
export function runTokenizer(model: ModelRef): Promise<Tokenizer> {
  if ("path" in model && existsSync(join(model.path, "tokenizer.json"))) {
    // Its errors name the folder's tokenizer.json.
    return loadTokenizer(model.path);
  }
  return loadQwen3Tokenizer();
}

/** Whether a model folder has a chat template: chat_template.jinja, or tokenizer_config.json's `chat_template`. */
export function hasChatTemplate(dir: string): boolean {
  if (existsSync(join(dir, "chat_template.jinja"))) return true;
  const config = join(dir, "tokenizer_config.json");
  if (!existsSync(config)) return false;
  let template: unknown;
  try {
    template = (JSON.parse(readFileSync(config, "utf8")) as { chat_template?: unknown }).chat_template;
  } catch (error) {
    throw new Error(`${config} is not JSON: ${(error as Error).message}`);
  }
  return typeof template === "string" ? template.length > 0 : Array.isArray(template) && template.length > 0;
}

/**
 * The chat template that renders a run's chat samples and prompts when it is not the shipped Qwen3 one (whose
 * tokenizer renders with the hand-written mirror of its template): the model folder's own, read as transformers
 * reads it (`ModelChatTemplate.fromDir`), when the folder has its own tokenizer and a template. Undefined when the
 * tokenizer is Qwen3's or the folder has no template (chat samples are then refused).
 */
export async function runChatTemplate(
  model: ModelRef,
  tokenizer: Tokenizer,
): Promise<ModelChatTemplate | undefined> {
  if (!("path" in model) || "encodeChat" in tokenizer) return undefined;
  if (!existsSync(join(model.path, "tokenizer.json")) || !hasChatTemplate(model.path)) return undefined;
  return ModelChatTemplate.fromDir(model.path);
}

/**
 * What a run's rollouts and exports stop at: the chat template's end of turn first (Llama 3 `<|eot_id|>`), then
 * the template's other stop tokens and the tokenizer's stop ids (generation_config.json's eos ids, then
 * tokenizer_config.json's `eos_token`), without repeats. Without a model template, the tokenizer's stop ids.
 */
export async function runStopIds(model: ModelRef): Promise<readonly number[]> {
  const tokenizer = await runTokenizer(model);
  const template = await runChatTemplate(model, tokenizer);
  if (!template) return tokenizer.stopIds;
  const ids = template.stopTokens().flatMap((token, i) => {
    const id = tokenizer.tokenId(token);
    if (id === undefined && i === 0)
      throw new Error(
        `the chat template's end of turn ${JSON.stringify(token)} is not an added token of tokenizer ${tokenizer.id}`,
      );
    return id === undefined ? [] : [id];
  });
  return [...new Set([...ids, ...tokenizer.stopIds])];
}
