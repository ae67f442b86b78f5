/** Samples as documents and their shifted labels, checked against the tokenizer's own rendering and masks. */
import type { ChatSample, RlPromptSample, TextSample } from "@sovereign/schemas";
import { loadQwen3Tokenizer, type Qwen3Tokenizer } from "@sovereign/tokenizer";
import { beforeAll, describe, expect, it } from "vitest";
import { cacheKey } from "../src/build";
import {
  allocateRows,
  Documentizer,
  IGNORE_INDEX,
  type Overlong,
  type TokenDocument,
  writeRow,
} from "../src/index";

let tokenizer: Qwen3Tokenizer;
let eot: number;
let imEnd: number;
beforeAll(async () => {
  tokenizer = await loadQwen3Tokenizer();
  eot = tokenizer.encode("<|endoftext|>")[0] as number;
  imEnd = tokenizer.encode("<|im_end|>")[0] as number;
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

const documentizer = (
  role: "train" | "prompts",
  seqLen = 4096,
  overlong: Overlong = "truncate",
  thinking = true,
) => new Documentizer(tokenizer, { role, seqLen, overlong, thinking });

/** The labels of one document packed alone in a row just its size. */
function labelsOf(doc: TokenDocument): Int32Array {
  const rows = allocateRows(1, doc.ids.length);
  writeRow(rows, 0, doc.ids.length, [doc], eot);
  return rows.labels;
}

describe("chat documents", () => {
  it("train exactly the assistant turns with their <|im_end|>, as the tokenizer's mask says", () => {
    const { documents } = documentizer("train").documents("chat", chat);
    expect(documents).toHaveLength(1);
    const doc = documents[0] as TokenDocument;
    const encoded = tokenizer.encodeChat(chat.messages);
    expect(Array.from(doc.ids)).toEqual(encoded.ids);
    expect(Array.from(doc.mask ?? [])).toEqual(Array.from(encoded.assistantMask));

    const labels = labelsOf(doc);
    const targets = Array.from(labels).filter((l) => l !== IGNORE_INDEX);
    const spans = encoded.assistantSpans.map((s) => encoded.text.slice(s.start, s.end));
    expect(tokenizer.decode(targets)).toBe(spans.join(""));
    expect(spans.every((s) => s.endsWith("<|im_end|>"))).toBe(true);
    expect(targets.filter((t) => t === imEnd)).toHaveLength(2);
    labels.forEach((label, i) => {
      if (label !== IGNORE_INDEX) expect(label).toBe(doc.ids[i + 1]);
    });
    expect(labels[labels.length - 1]).toBe(IGNORE_INDEX);
    // The newline after each assistant <|im_end|> is template structure, not a target.
    const newline = tokenizer.encode("\n")[0];
    const afterImEnd = Array.from(doc.ids).flatMap((id, i) =>
      id === imEnd && i + 1 < doc.ids.length ? [i] : [],
    );
    for (const i of afterImEnd) {
      expect(doc.ids[i + 1]).toBe(newline);
      expect(labels[i]).toBe(IGNORE_INDEX);
    }
  });

  it("drop a conversation with nothing to train", () => {
    const userOnly = { ...chat, messages: [{ role: "user" as const, content: "สวัสดี" }] };
    expect(documentizer("train").documents("chat", userOnly)).toEqual({
      documents: [],
      dropped: "untrained",
    });
  });

  /** A prompt document's prompt (mask 0) and dataset response (mask 1), decoded. */
  const promptAndResponse = (doc: TokenDocument) => {
    const ids = Array.from(doc.ids);
    const mask = Array.from(doc.mask ?? []);
    expect(mask).toHaveLength(ids.length);
    const at = mask.indexOf(1) === -1 ? ids.length : mask.indexOf(1);
    expect(mask.slice(at).every((m) => m === 1)).toBe(true);
    return { prompt: ids.slice(0, at), response: ids.slice(at) };
  };

  it("become the turns before the last answer when used as prompts, followed by that answer", () => {
    const result = documentizer("prompts").documents("chat", chat);
    expect(result.prompt).toEqual({ sampleId: "c1", messages: [], rewardModel: null });
    const { prompt, response } = promptAndResponse(result.documents[0] as TokenDocument);
    const rendered = tokenizer.renderChat(chat.messages.slice(0, 4), { addGenerationPrompt: true });
    expect(tokenizer.decode(prompt)).toBe(rendered);
    // Prompt and response read as the whole conversation, up to the <|im_end|> that ends the answer.
    const whole = tokenizer.renderChat(chat.messages);
    expect(whole.startsWith(tokenizer.decode(prompt) + tokenizer.decode(response))).toBe(true);
    expect(tokenizer.decode(response)).toBe("<think>\n\n</think>\n\nยินดีค่ะ 🍲<|im_end|>");
    // Encoded on its own, as a completion sampled after the prompt is.
    expect(response).toEqual(tokenizer.encode(tokenizer.decode(response)));
  });

  it("as non-thinking prompts, end in the empty think block with the answer after it, without its reasoning", () => {
    const reasoned: ChatSample = {
      ...chat,
      messages: [
        ...chat.messages.slice(0, 4),
        { role: "assistant", content: "<think>\nคิดก่อน\n</think>\n\nยินดีค่ะ" },
      ],
    };
    for (const sample of [chat, reasoned]) {
      const doc = documentizer("prompts", 4096, "truncate", false).documents("chat", sample).documents[0];
      const { prompt, response } = promptAndResponse(doc as TokenDocument);
      expect(tokenizer.decode(prompt)).toMatch(/<\|im_start\|>assistant\n<think>\n\n<\/think>\n\n$/);
      expect(tokenizer.decode(response)).toBe(sample === chat ? "ยินดีค่ะ 🍲<|im_end|>" : "ยินดีค่ะ<|im_end|>");
    }
  });

  it("as prompts, cut their answer to fit seqLen and keep prompts alone when there is no answer", () => {
    const full = documentizer("prompts").documents("chat", chat).documents[0] as TokenDocument;
    const promptLength = Array.from(full.mask ?? []).indexOf(1);
    const cut = documentizer("prompts", promptLength + 2).documents("chat", chat);
    expect(cut.cut).toBe("truncated");
    expect(Array.from(cut.documents[0]?.ids ?? [])).toEqual(Array.from(full.ids).slice(0, promptLength + 2));
    const unanswered = { ...chat, messages: chat.messages.slice(0, 2) };
    const alone = documentizer("prompts").documents("chat", unanswered).documents[0] as TokenDocument;
    expect(Array.from(alone.mask ?? [])).toEqual(new Array(alone.ids.length).fill(0));
  });
});

describe("text documents", () => {
  it("are the text's ids and <|endoftext|>, every next token trained", () => {
    const sample: TextSample = { id: "t1", source: "test", meta: {}, text: "มาตรา ๒๘๘ ผู้ใดฆ่าผู้อื่น" };
    const doc = documentizer("train").documents("text", sample).documents[0] as TokenDocument;
    expect(Array.from(doc.ids)).toEqual([...tokenizer.encode(sample.text), eot]);
    expect(Array.from(labelsOf(doc))).toEqual([...Array.from(doc.ids).slice(1), IGNORE_INDEX]);
  });

  it("longer than seqLen are truncated, dropped or split as asked", () => {
    const sample: TextSample = { id: "t2", source: "test", meta: {}, text: "ผู้ใดกระทำความผิด ".repeat(20) };
    const ids = [...tokenizer.encode(sample.text), eot];
    const truncated = documentizer("train", 16, "truncate").documents("text", sample);
    expect(truncated.cut).toBe("truncated");
    expect(Array.from(truncated.documents[0]?.ids ?? [])).toEqual(ids.slice(0, 16));
    expect(documentizer("train", 16, "drop").documents("text", sample)).toEqual({
      documents: [],
      dropped: "overlong",
    });
    for (const seqLen of [16, 17]) {
      const split = documentizer("train", seqLen, "split").documents("text", sample);
      expect(split.cut).toBe("split");
      expect(split.documents.every((d) => d.ids.length <= seqLen && d.ids.length >= 2)).toBe(true);
      // Pieces in order, each starting on the last token of the one before: every token after the first is
      // a trained target exactly once, the tail included.
      const targets = split.documents.flatMap((d) =>
        Array.from(labelsOf(d)).filter((l) => l !== IGNORE_INDEX),
      );
      expect(targets).toEqual(ids.slice(1));
      split.documents.slice(1).forEach((d, i) => {
        const before = split.documents[i] as TokenDocument;
        expect(d.ids[0]).toBe(before.ids[before.ids.length - 1]);
      });
    }
  });
});

describe("prompt documents", () => {
  const prompt: RlPromptSample = {
    id: "p1",
    source: "test",
    meta: {},
    prompt: [{ role: "user", content: "ผู้ใดลักทรัพย์ผิดมาตราใด" }],
    reward_model: { style: "rule", ground_truth: '{"label":true,"articles":["334"]}' },
  };

  it("end in the generation prompt and keep the reward model", () => {
    const result = documentizer("prompts").documents("rl-prompt", prompt);
    const text = tokenizer.decode(Array.from(result.documents[0]?.ids ?? []));
    expect(text).toBe("<|im_start|>user\nผู้ใดลักทรัพย์ผิดมาตราใด<|im_end|>\n<|im_start|>assistant\n");
    expect(result.prompt).toEqual({
      sampleId: "p1",
      messages: prompt.prompt,
      rewardModel: prompt.reward_model,
    });
  });

  it("end in an empty think block in non-thinking mode", () => {
    const result = documentizer("prompts", 4096, "truncate", false).documents("rl-prompt", prompt);
    expect(tokenizer.decode(Array.from(result.documents[0]?.ids ?? []))).toMatch(
      /<\|im_start\|>assistant\n<think>\n\n<\/think>\n\n$/,
    );
  });

  it("carry the tools offered to the policy, rendered as the chat template renders a sample's tools", () => {
    const tools = [
      {
        type: "function" as const,
        function: {
          name: "statute_search",
          parameters: { type: "object", properties: { query: { type: "string" } }, required: ["query"] },
        },
      },
    ];
    const withTools = new Documentizer(tokenizer, {
      role: "prompts",
      seqLen: 4096,
      overlong: "truncate",
      thinking: true,
      tools,
    }).documents("rl-prompt", prompt);
    expect(Array.from(withTools.documents[0]?.ids ?? [])).toEqual(
      tokenizer.encodeChat(prompt.prompt, { tools, addGenerationPrompt: true }).ids,
    );
    expect(tokenizer.decode(Array.from(withTools.documents[0]?.ids ?? []))).toContain(
      '"name": "statute_search"',
    );
    const key = (options: object) =>
      cacheKey({ hash: "a".repeat(64), manifest: { splits: { train: {} } } as never }, "t", {
        role: "prompts",
        seqLen: 64,
        overlong: "truncate",
        thinking: true,
        ...options,
      });
    expect(key({ tools })).not.toEqual(key({}));
    expect(key({})).not.toHaveProperty("tools");
  });

  it("longer than seqLen are dropped, never cut", () => {
    const result = documentizer("prompts", 8).documents("rl-prompt", prompt);
    expect(result.documents).toEqual([]);
    expect(result.dropped).toBe("overlong");
  });
});
