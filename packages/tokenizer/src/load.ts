/**
 * @module Any model's own tokenizer: `tokenizer.json` + `tokenizer_config.json` (+ `generation_config.json`)
 * from a model folder, encoded by the byte-level BPE in bpe.ts.
 *
 * A folder whose two files are exactly the shipped Qwen3 ones gets the shared Qwen3 tokenizer (with its chat
 * template), so runs on Qwen3 models keep their id and their tokenized caches.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { TokenizerJson } from "./bpe";
import type { TextSpan } from "./chat-template";
import { BpeBackedTokenizer, loadQwen3Tokenizer, QWEN3_TOKENIZER_ID, qwen3TokenizerDir } from "./tokenizer";

/** What the data plane, rollout scoring and /config read of a tokenizer, whichever model it belongs to. */
export interface Tokenizer {
  /**
   * Names the exact files: `<name>@<first 12 hex digits of hash>`; the pinned `Qwen/Qwen3@3ab5f02a45c3` for the
   * shipped Qwen3 files.
   */
  readonly id: string;
  /** SHA-256 (hex) of tokenizer.json followed by tokenizer_config.json, as `cat … | sha256sum` prints it. */
  readonly hash: string;
  /** Ids the tokenizer can produce: the BPE vocabulary plus the added tokens (`len(tokenizer)`). */
  readonly vocabSize: number;
  /** Ids generation stops at, end of turn first. */
  readonly stopIds: readonly number[];
  /** Ids of the added tokens flagged `special`. */
  readonly specialIds: ReadonlySet<number>;
  /**
   * The id that ends a text document and pads packed rows: `<|endoftext|>` (Qwen, GPT-4-style) or
   * `<|end_of_text|>` (Llama-3) where the tokenizer has one, else tokenizer_config.json's `eos_token`.
   */
  readonly endOfTextId: number | undefined;
  /** Token ids of `text`, no special tokens added; added tokens written in the text become those tokens. */
  encode(text: string): number[];
  /** Text of `ids`; bytes that are not valid UTF-8 become U+FFFD. */
  decode(ids: readonly number[], options?: { skipSpecial?: boolean }): string;
  count(text: string): number;
  /** UTF-8 length of one id's text. */
  byteLength(id: number): number;
  /** The id of an added token (`<|im_end|>`, `<|eot_id|>`, …), or undefined when the tokenizer has none. */
  tokenId(content: string): number | undefined;
  /**
   * Token ids of `text` (a chat rendering whose message text is NFC) and the mask of the tokens that overlap
   * `spans` (ascending, UTF-16 offsets; a token straddling an edge counts): assistant loss masks.
   */
  encodeWithSpans(text: string, spans: readonly TextSpan[]): { ids: number[]; assistantMask: Uint8Array };
}

/** The files a tokenizer is read from: a model folder, or the files' paths one by one. */
export type TokenizerSource =
  | string
  | { tokenizerJson: string; tokenizerConfig: string; generationConfig?: string; name?: string };

/** tokenizer_config.json as far as this module reads it. */
type TokenizerConfig = {
  eos_token?: string | { content: string } | null;
  bos_token?: string | { content: string } | null;
  pad_token?: string | { content: string } | null;
  name_or_path?: string;
};

const tokenContent = (t: string | { content: string } | null | undefined) =>
  typeof t === "string" ? t : (t?.content ?? undefined);

/** A byte-level BPE tokenizer read from a model's own files. */
export class BpeTokenizer extends BpeBackedTokenizer implements Tokenizer {
  readonly stopIds: readonly number[];
  /** The id of tokenizer_config.json's `bos_token`, if it declares one; `encode` never adds it. */
  readonly bosId: number | undefined;
  /** The id of tokenizer_config.json's `eos_token`, if it declares one. */
  readonly eosId: number | undefined;
  /** The id of tokenizer_config.json's `pad_token`, if it declares one. */
  readonly padId: number | undefined;
  readonly endOfTextId: number | undefined;

  /**
   * Use loadTokenizer(). `stopIds` are the eos ids of generation_config.json (a number or a list) followed by
   * tokenizer_config.json's `eos_token`, without repeats.
   */
  constructor(
    readonly id: string,
    readonly hash: string,
    json: TokenizerJson,
    config: TokenizerConfig,
    generationEos: readonly number[] = [],
  ) {
    super(json);
    const idOf = (field: keyof TokenizerConfig) => {
      const content = tokenContent(config[field] as string | { content: string } | null | undefined);
      if (content === undefined) return undefined;
      const id = this.tokenId(content);
      if (id === undefined)
        throw new Error(`tokenizer_config.json ${field} ${JSON.stringify(content)} is not an added token`);
      return id;
    };
    this.bosId = idOf("bos_token");
    this.eosId = idOf("eos_token");
    this.padId = idOf("pad_token");
    for (const id of generationEos) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)
        throw new Error(`generation_config.json eos_token_id ${id} is outside the vocabulary`);
    }
    this.endOfTextId = this.tokenId("<|endoftext|>") ?? this.tokenId("<|end_of_text|>") ?? this.eosId;
    this.stopIds = [...new Set([...generationEos, ...(this.eosId === undefined ? [] : [this.eosId])])];
  }
}

/** SHA-256 of tokenizer.json followed by tokenizer_config.json. */
function contentHash(tokenizerFile: Buffer, configFile: Buffer): string {
  return createHash("sha256").update(tokenizerFile).update(configFile).digest("hex");
}

function sourcePaths(source: TokenizerSource) {
  if (typeof source !== "string") return source;
  const generation = join(source, "generation_config.json");
  return {
    tokenizerJson: join(source, "tokenizer.json"),
    tokenizerConfig: join(source, "tokenizer_config.json"),
    ...(existsSync(generation) ? { generationConfig: generation } : {}),
    name: undefined,
  };
}

async function readJson<T>(path: string, file: Buffer): Promise<T> {
  try {
    return JSON.parse(file.toString("utf8")) as T;
  } catch (error) {
    throw new Error(`${path} is not JSON: ${(error as Error).message}`);
  }
}

/** The eos ids of a generation_config.json: its `eos_token_id`, a number or a list. */
async function generationEos(path: string | undefined): Promise<number[]> {
  if (path === undefined) return [];
  const config = await readJson<{ eos_token_id?: number | number[] | null }>(path, await readFile(path));
  const eos = config.eos_token_id;
  return eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos];
}

/** One instance per distinct tokenizer.json + tokenizer_config.json (by content hash) and thread. */
const loaded = new Map<string, Promise<Tokenizer>>();

/**
 * The tokenizer of a model folder (its tokenizer.json, tokenizer_config.json and, when present,
 * generation_config.json), or of files named one by one. Files with the same content share one instance per
 * thread; the shipped Qwen3 files give the shared Qwen3Tokenizer (with its chat template). A tokenizer.json
 * this encoder does not implement is refused with an UnsupportedTokenizerError naming each field
 * (`model.type Unigram is not supported (only byte-level BPE)`, a Metaspace pre-tokenizer, an NFKC
 * normalizer, …).
 */
export async function loadTokenizer(source: TokenizerSource): Promise<Tokenizer> {
  const paths = sourcePaths(source);
  for (const path of [paths.tokenizerJson, paths.tokenizerConfig]) {
    if (!existsSync(path))
      throw new Error(
        `${path} does not exist: a model's tokenizer needs tokenizer.json and tokenizer_config.json`,
      );
  }
  const [tokenizerFile, configFile] = await Promise.all([
    readFile(paths.tokenizerJson),
    readFile(paths.tokenizerConfig),
  ]);
  const hash = contentHash(tokenizerFile, configFile);
  if (`Qwen/Qwen3@${hash.slice(0, 12)}` === QWEN3_TOKENIZER_ID) return loadQwen3Tokenizer();
  const eos = await generationEos(paths.generationConfig);
  const key = `${hash} ${paths.name ?? ""} ${eos.join(",")}`;
  let loading = loaded.get(key);
  if (loading === undefined) {
    loading = build(paths, hash, tokenizerFile, configFile, eos);
    loaded.set(key, loading);
    loading.catch(() => loaded.delete(key));
  }
  return loading;
}

async function build(
  paths: ReturnType<typeof sourcePaths>,
  hash: string,
  tokenizerFile: Buffer,
  configFile: Buffer,
  eos: readonly number[],
): Promise<Tokenizer> {
  const config = await readJson<TokenizerConfig>(paths.tokenizerConfig, configFile);
  const json = await readJson<TokenizerJson>(paths.tokenizerJson, tokenizerFile);
  const name = paths.name ?? config.name_or_path ?? "tokenizer";
  try {
    return new BpeTokenizer(`${name}@${hash.slice(0, 12)}`, hash, json, config, eos);
  } catch (error) {
    (error as Error).message = `${paths.tokenizerJson}: ${(error as Error).message}`;
    throw error;
  }
}

/** The shipped Qwen3 tokenizer's folder, as a TokenizerSource (what a model without its own files gets). */
export function defaultTokenizerSource(): string {
  return qwen3TokenizerDir();
}
