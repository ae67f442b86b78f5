/**
 * @module The tokenizer of a run's model: the one its data plane tokenizes with, its rollouts are scored with and
 * its engine is told about (`tokenizerVocab`, `stopIds` in /config).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ModelRef } from "@sovereign/schemas";
import { loadQwen3Tokenizer, loadTokenizer, type Tokenizer } from "@sovereign/tokenizer";

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
