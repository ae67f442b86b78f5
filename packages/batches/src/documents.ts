/**
 * @module Samples as token documents, the unit the data plane packs and shuffles.
 *
 * - chat sample (packed roles): the Qwen3 chat template's rendering with its tools, and the tokenizer's
 *   assistant mask as the trained mask: each assistant turn after its `<|im_start|>assistant\n` header through
 *   its `<|im_end|>` (think block and tool calls included); system, user and tool turns are context only.
 *   With a model's own chat template (`withChatTemplate`, `openTrainingData`'s `chatTemplate`), its rendering
 *   and its assistant spans instead (ModelChatTemplate.renderWithSpans): the same rules in its tokens.
 * - text sample (packed roles): `encode(text)` followed by `<|endoftext|>`, every token trained.
 * - rl-prompt sample (`prompts` role): the prompt turns rendered for generation, ending in
 *   `<|im_start|>assistant\n` (with `thinking: false`, followed by Qwen3's empty think block, its
 *   non-thinking mode); the sample's id, prompt turns and `reward_model` are kept for scoring.
 *   With `tools` (a GRPO run whose policy may call tools), the system turn carries their tools block.
 * - chat sample (`prompts` role, for on-policy distillation): the turns before the last assistant turn,
 *   rendered the same way, with no reward model, followed by its dataset response: the last assistant turn as
 *   the template renders it after that prompt, through its `<|im_end|>` (in non-thinking mode the prompt's
 *   empty think block already stands before it, and a reasoning the turn holds is left out, as a
 *   non-thinking answer has none), encoded on its own as a completion sampled after the prompt would be. The
 *   response is the document's masked part (mask 1), the prompt its unmasked head; it is cut so that the two
 *   fit in `seqLen`.
 *
 * A document longer than `seqLen` is truncated to its first `seqLen` tokens (`truncate`, the default),
 * dropped (`drop`), or cut into pieces of at most `seqLen` tokens that are documents of their own (`split`,
 * for a corpus whose long documents should be trained on whole): each piece after the first starts with the
 * last token of the one before, so every token after the document's first is a trained target exactly once.
 * A packed document left with no trained label (a chat with no assistant turn, or one whose answer lay past
 * the cut) is dropped as `untrained`. An overlong prompt is always dropped: a cut prompt asks a different
 * question; a response that does not fit after its prompt is cut.
 */
import type { ChatMessage, DatasetKind, Sample, ToolDefinition } from "@sovereign/schemas";
import type { Qwen3Tokenizer } from "@sovereign/tokenizer";

/**
 * What the data plane needs of a tokenizer; tests wrap the real one to count calls. `endOfTextId` ends each
 * text document and pads rows; without it, `<|endoftext|>` (Qwen's).
 */
export type DocumentTokenizer = Pick<Qwen3Tokenizer, "id" | "encode" | "encodeChat"> & {
  readonly endOfTextId?: number | undefined;
};

/** The id that ends a text document and pads rows: the tokenizer's `endOfTextId`, else `<|endoftext|>`. */
export function endOfTextId(tokenizer: DocumentTokenizer): number {
  return tokenizer.endOfTextId ?? specialTokenId(tokenizer, "<|endoftext|>");
}

/** `train` and `corpus` give packed rows, `prompts` ragged prompts (docs/engine-protocol.md). */
export type Role = "train" | "corpus" | "prompts";
export const ROLES: readonly Role[] = ["train", "corpus", "prompts"];

export type Overlong = "truncate" | "drop" | "split";

/**
 * Names the rules above. Part of every cache key: changing what a document is (labels, the end-of-text
 * token, template options) must bump it so old caches are not read as new ones.
 */
export const DOCUMENT_FORMAT = "sovereign.documents/v2";

/**
 * Token ids and, for packed documents, the trained mask (1 = loss on this token when it is a target). A prompt
 * document of a chat sample has a mask too: 0 over the prompt, 1 over its dataset response after it.
 */
export type TokenDocument = { ids: Int32Array; mask?: Uint8Array };

export type RewardModel = { style: string; ground_truth: string };

/** What a prompt document keeps besides its ids. */
export type PromptMeta = {
  sampleId: string;
  /**
   * The prompt turns of an rl-prompt sample, for a judge to read. Empty for prompts taken from
   * conversations, which nothing scores: a large chat set's turns are not worth holding in memory.
   */
  messages: { role: string; content: string | null }[];
  rewardModel: RewardModel | null;
};

export type DocumentOptions = {
  role: Role;
  seqLen: number;
  overlong: Overlong;
  /** Prompts only: false renders Qwen3's empty think block after the generation prompt. */
  thinking: boolean;
  /** Prompts only: tools offered to the policy in every prompt (in place of a chat sample's own). */
  tools?: ToolDefinition[];
};

/** What one sample became: its documents, and what was cut or dropped on the way. */
export type SampleDocuments = {
  documents: TokenDocument[];
  prompt?: PromptMeta;
  /** The sample was longer than `seqLen`: `truncated` lost its tail, `split` became several documents. */
  cut?: "truncated" | "split";
  dropped?: "overlong" | "untrained";
};

/** What closes a think block in the Qwen3 template, with the blank line before the answer. */
const THINK_CLOSE = "</think>\n\n";

/** Id of an added token that must encode as exactly one id (`<|endoftext|>`, `<|im_end|>`). */
export function specialTokenId(tokenizer: Pick<Qwen3Tokenizer, "encode">, token: string): number {
  const ids = tokenizer.encode(token);
  if (ids.length !== 1)
    throw new Error(`${token} is not a single token of this tokenizer (got ids [${ids}])`);
  return ids[0] as number;
}

/** Whether `kind` can feed `role`. */
export function kindFitsRole(kind: DatasetKind, role: Role): boolean {
  return role === "prompts" ? kind === "rl-prompt" || kind === "chat" : kind === "chat" || kind === "text";
}

export class Documentizer {
  private readonly endOfText: number;

  constructor(
    private readonly tokenizer: DocumentTokenizer,
    private readonly options: DocumentOptions,
  ) {
    this.endOfText = endOfTextId(tokenizer);
  }

  documents(kind: DatasetKind, sample: Sample): SampleDocuments {
    if (this.options.role === "prompts") return this.prompt(kind, sample);
    if (kind === "chat" && "messages" in sample) {
      const encoded = this.tokenizer.encodeChat(sample.messages, { tools: sample.tools });
      return this.fit(Int32Array.from(encoded.ids), encoded.assistantMask);
    }
    if (kind === "text" && "text" in sample) {
      const ids = this.tokenizer.encode(sample.text);
      const out = new Int32Array(ids.length + 1);
      out.set(ids);
      out[ids.length] = this.endOfText;
      return this.fit(out, new Uint8Array(out.length).fill(1));
    }
    throw new Error(`a ${kind} sample cannot feed the ${this.options.role} role`);
  }

  private prompt(kind: DatasetKind, sample: Sample): SampleDocuments {
    let messages: ChatMessage[];
    let tools: readonly ToolDefinition[] | null = null;
    let rewardModel: RewardModel | null = null;
    if (kind === "rl-prompt" && "prompt" in sample) {
      messages = sample.prompt;
      rewardModel = { style: sample.reward_model.style, ground_truth: sample.reward_model.ground_truth };
    } else if (kind === "chat" && "messages" in sample) {
      const lastAssistant = sample.messages.findLastIndex((m) => m.role === "assistant");
      messages = lastAssistant === -1 ? sample.messages : sample.messages.slice(0, lastAssistant);
      tools = sample.tools;
    } else {
      throw new Error(`a ${kind} sample cannot feed the prompts role`);
    }
    const prompt: PromptMeta = {
      sampleId: sample.id,
      messages: rewardModel ? messages.map((m) => ({ role: m.role, content: m.content })) : [],
      rewardModel,
    };
    if (messages.length === 0) return { documents: [], prompt, dropped: "untrained" };
    const { ids } = this.tokenizer.encodeChat(messages, {
      tools: this.options.tools ?? tools,
      addGenerationPrompt: true,
      ...(this.options.thinking ? {} : { enableThinking: false }),
    });
    const { seqLen } = this.options;
    if (ids.length > seqLen) return { documents: [], prompt, dropped: "overlong" };
    if (kind !== "chat" || !("messages" in sample))
      return { documents: [{ ids: Int32Array.from(ids) }], prompt };
    const response = this.response(sample.messages, tools);
    const kept = response.subarray(0, seqLen - ids.length);
    const doc = new Int32Array(ids.length + kept.length);
    doc.set(ids);
    doc.set(kept, ids.length);
    const mask = new Uint8Array(doc.length).fill(1, ids.length);
    return {
      documents: [{ ids: doc, mask }],
      prompt,
      ...(kept.length < response.length ? { cut: "truncated" as const } : {}),
    };
  }

  /**
   * The ids of a conversation's last assistant turn as it follows the prompt of the turns before it: the
   * turn's rendering after its `<|im_start|>assistant\n` header through its `<|im_end|>`, less the empty think
   * block a non-thinking prompt ends with (and less a reasoning the turn holds, which non-thinking answers
   * lack). Empty for a conversation without an assistant turn.
   */
  private response(messages: readonly ChatMessage[], tools: readonly ToolDefinition[] | null): Int32Array {
    const last = messages.findLastIndex((m) => m.role === "assistant");
    if (last === -1) return new Int32Array(0);
    const { text, assistantSpans } = this.tokenizer.encodeChat(messages.slice(0, last + 1), { tools });
    const span = assistantSpans.at(-1) as { start: number; end: number };
    let turn = text.slice(span.start, span.end);
    if (!this.options.thinking) {
      const close = turn.indexOf(THINK_CLOSE);
      if (turn.startsWith("<think>") && close !== -1) turn = turn.slice(close + THINK_CLOSE.length);
    }
    return Int32Array.from(this.tokenizer.encode(turn));
  }

  /** Applies the overlong policy and drops pieces that train nothing. */
  private fit(ids: Int32Array, mask: Uint8Array): SampleDocuments {
    const { seqLen, overlong } = this.options;
    let pieces: TokenDocument[] = [{ ids, mask }];
    const cut = ids.length <= seqLen ? undefined : overlong === "split" ? "split" : "truncated";
    if (cut) {
      if (overlong === "drop") return { documents: [], dropped: "overlong" };
      if (overlong === "truncate")
        pieces = [{ ids: ids.subarray(0, seqLen), mask: mask.subarray(0, seqLen) }];
      else {
        // Each piece re-reads the last token of the one before as its context, so that token's successor,
        // the new piece's first target, is trained too.
        pieces = [];
        const stride = Math.max(seqLen - 1, 1);
        for (let at = 0; ; at += stride) {
          pieces.push({ ids: ids.subarray(at, at + seqLen), mask: mask.subarray(at, at + seqLen) });
          if (at + seqLen >= ids.length) break;
        }
      }
    }
    const documents = pieces.filter((p) => trainedLabels(p.mask as Uint8Array) > 0);
    return documents.length === 0 ? { documents, cut, dropped: "untrained" } : { documents, cut };
  }
}

/** Labels a document trains: targets at positions 1.. whose mask is set (position 0 is never a target). */
export function trainedLabels(mask: Uint8Array): number {
  let n = 0;
  for (let i = 1; i < mask.length; i++) n += mask[i] as number;
  return n;
}
