/**
 * @module A rollout's completion ids as the answer to score. The ids are cut at the first end token
 * (`<|im_end|>` or `<|endoftext|>`; a completion with neither ran out of tokens and is marked unstopped) and
 * decoded; a think block is then set apart as the template reads one: the answer is what follows the last
 * `</think>`. A `<think>` that never closes leaves no answer: the model was still reasoning when it stopped.
 */
import type { Qwen3Tokenizer } from "@sovereign/tokenizer";

/** `stopIds` end a completion; without them, Qwen's `<|im_end|>` and `<|endoftext|>`. */
export type CompletionTokenizer = Pick<Qwen3Tokenizer, "encode" | "decode" | "vocabSize"> & {
  readonly stopIds?: readonly number[];
};

export type DecodedCompletion = {
  /** Everything before the end token, decoded. */
  text: string;
  /** What is scored: the text after any think block, trimmed. */
  answer: string;
  /** The think block's content, when there was one. */
  reasoning?: string;
  /** Whether the completion ended with an end token rather than at the length limit. */
  stopped: boolean;
  /**
   * Ids the tokenizer has no token for, left out of the text: a model's embedding table is padded past the
   * tokenizer's vocabulary (Qwen3: 151,936 rows for 151,669 tokens), and a sampler can land on those rows.
   */
  unknownIds?: number;
};

/** Id of an added token that must encode as exactly one id. */
export function specialTokenId(tokenizer: Pick<Qwen3Tokenizer, "encode">, token: string): number {
  const ids = tokenizer.encode(token);
  if (ids.length !== 1)
    throw new Error(`${token} is not a single token of this tokenizer (got ids [${ids}])`);
  return ids[0] as number;
}

export class CompletionDecoder {
  private readonly stops: Set<number>;

  constructor(private readonly tokenizer: CompletionTokenizer) {
    this.stops = new Set(
      tokenizer.stopIds ?? ["<|im_end|>", "<|endoftext|>"].map((t) => specialTokenId(tokenizer, t)),
    );
  }

  decode(ids: ArrayLike<number>): DecodedCompletion {
    let end = 0;
    while (end < ids.length && !this.stops.has(ids[end] as number)) end++;
    const known: number[] = [];
    for (let i = 0; i < end; i++) {
      const id = ids[i] as number;
      if (Number.isInteger(id) && id >= 0 && id < this.tokenizer.vocabSize) known.push(id);
    }
    const text = this.tokenizer.decode(known);
    const unknownIds = end - known.length;
    return { ...splitThinking(text), text, stopped: end < ids.length, ...(unknownIds ? { unknownIds } : {}) };
  }
}

export function splitThinking(text: string): { answer: string; reasoning?: string } {
  const close = text.lastIndexOf("</think>");
  if (close !== -1) {
    const before = text.slice(0, close);
    const open = before.indexOf("<think>");
    return {
      answer: text.slice(close + "</think>".length).trim(),
      reasoning: (open === -1 ? before : before.slice(open + "<think>".length)).trim(),
    };
  }
  const open = text.indexOf("<think>");
  if (open !== -1) return { answer: "", reasoning: text.slice(open + "<think>".length).trim() };
  return { answer: text.trim() };
}
